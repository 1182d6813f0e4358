"""Everything the daemon runs, wired together: store, devices, workers, events, templates.

Started before the HTTP socket is bound and closed after it is released, so no request
ever sees a half-started daemon. Tests and the benchmark build one directly.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import time
from typing import TYPE_CHECKING, Any

from drivers.scanner.scan import Scan
from posbridge._tasks import cancel_and_wait
from posbridge.auth import load_or_create_token
from posbridge.config import Config
from posbridge.customer_profile import load_customer_profile, save_customer_profile
from posbridge.devices import DeviceManager
from posbridge.events import EventBus
from posbridge.hangtags.catalog import Catalog

if TYPE_CHECKING:
    from posbridge.fiscal.service import FiscalService
    from posbridge.hangtags.templates import HangTagTemplates
from posbridge.jobs.store import JobStore
from posbridge.jobs.waiters import JobWaiters
from posbridge.jobs.worker import DeviceWorker, JobNotifier
from posbridge.receipts.templates import TemplateStore
from posbridge.scanning.result import Classification
from posbridge.scanning.rules import CustomerProfileConfig

__all__ = ["Runtime", "StateDirBusy"]

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 2.0
SHUTDOWN_GRACE_S = 10.0
PRUNE_INTERVAL_S = 3600.0


def _first_event_seq() -> int:
    # Sequence numbers keep growing across restarts (a client resuming with an old
    # Last-Event-ID then gets a gap notice rather than silently missing events):
    # milliseconds since the epoch, times 1000, leaves room for 1000 events a millisecond.
    return int(time() * 1000) * 1000


class StateDirBusy(Exception):
    """Another posbridge process already runs with this state directory."""


def _prepare_state_dir(state_dir: Path) -> tuple[str, int]:
    """Create the state directory (private to the daemon's user) and lock it; return the
    API token and the lock's file descriptor, held for the life of the process."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Two daemons on one job database would each send every job: one printout too many.
    # The kernel drops the lock when the process dies, kill -9 included.
    fd = os.open(state_dir / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateDirBusy(
            f"another posbridge is already running with state directory {state_dir}"
        ) from None
    return load_or_create_token(state_dir), fd


@dataclass
class Runtime:
    config: Config
    state_dir: Path
    token: str
    store: JobStore
    events: EventBus
    devices: DeviceManager
    templates: TemplateStore
    catalog: Catalog
    customer_profile: CustomerProfileConfig
    _hang_tag_templates: HangTagTemplates | None = None
    _fiscal: FiscalService | None = None
    _fiscal_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiters: JobWaiters = field(default_factory=JobWaiters)
    notifier: JobNotifier = field(init=False)
    workers: dict[str, DeviceWorker] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _worker_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _warm_up: asyncio.Task[object] | None = None
    _lock_fd: int = -1

    @classmethod
    async def start(cls, config: Config, state_dir: Path) -> Runtime:
        token, lock_fd = await asyncio.to_thread(_prepare_state_dir, state_dir)
        events = EventBus(start_seq=_first_event_seq())
        store = await JobStore.open(state_dir / "jobs.sqlite3")
        templates = TemplateStore(directory=config.templates_dir or state_dir / "templates")
        catalog = await asyncio.to_thread(Catalog, state_dir / "catalog.sqlite3")
        customer_profile = await asyncio.to_thread(load_customer_profile, config, state_dir)
        runtime = cls(
            config=config,
            state_dir=state_dir,
            token=token,
            store=store,
            events=events,
            # Scans are classified under the rules in force when they arrive, which a
            # PUT may replace: the runtime is looked up then, not now.
            devices=DeviceManager(
                config.devices, events, classify=lambda scan: runtime.classify_scan(scan)
            ),
            customer_profile=customer_profile,
            templates=templates,
            catalog=catalog,
            _lock_fd=lock_fd,
        )
        notifier = runtime.notifier = JobNotifier(events, runtime.waiters)
        for job in store.recovered:
            if job.parted:
                log.warning(
                    "batch %s was printing when the daemon stopped: it goes on from tag %d"
                    " (%d labels in doubt)",
                    job.id, job.parts_done, sum(r.units for r in job.doubt),
                )
            else:
                log.warning("job %s was being sent when the daemon stopped: now in_doubt", job.id)
            notifier.changed(job)
        if (state_dir / "fiscal.json").exists() or (state_dir / "fiscal-journal.sqlite3").exists():
            await runtime.fiscal()
        runtime.devices.start()
        for device_id, device in runtime.devices.printers().items():
            worker = DeviceWorker(device, store, notifier)
            runtime.workers[device_id] = worker
            runtime._worker_tasks.append(
                asyncio.create_task(worker.run(), name=f"worker:{device_id}")
            )
        runtime._tasks.append(asyncio.create_task(runtime._maintain(notifier), name="maintain"))
        if runtime.devices.printers().keys() != runtime.devices.devices.keys():
            # Scanners: load classification beside the loop now, not on the first scan.
            runtime._warm_up = asyncio.create_task(
                asyncio.to_thread(importlib.import_module, "posbridge.scanning.classify")
            )
        return runtime

    @property
    def hang_tag_templates(self) -> HangTagTemplates:
        """Hang-tag templates, set up with the first hang-tag request (the template code
        is not needed to start)."""
        if self._hang_tag_templates is None:
            from posbridge.hangtags.templates import HangTagTemplates

            folder = self.config.hang_tags.templates_dir or self.state_dir / "hang-tag-templates"
            self._hang_tag_templates = HangTagTemplates(folder)
        return self._hang_tag_templates

    async def fiscal(self) -> FiscalService:
        """The fiscal cashboxes. Loaded at start when any are configured (their journals
        are checked then); otherwise with the first fiscal request, so a store without
        fiscal devices does not load the signing code."""
        async with self._fiscal_lock:
            if self._fiscal is None:
                from posbridge.fiscal.service import FiscalService

                self._fiscal = await FiscalService.open(self.state_dir)
            return self._fiscal

    def classify_scan(self, scan: Scan) -> Classification:
        """Classify a scan under the customer-profile rules in force now."""
        # Loaded with the first scan: the GS1 and phone-number libraries take a while.
        from posbridge.scanning.classify import classify

        return classify(
            scan.data,
            scan.symbology,
            self.customer_profile,
            default_region=self.config.customer_profile.default_region,
        )

    def set_customer_profile(self, platform: Mapping[str, Any]) -> CustomerProfileConfig:
        """Replace the customer-profile rules (raises ScanConfigError, naming the entry,
        and keeps the old ones); kept in the state directory across restarts."""
        profile = CustomerProfileConfig.from_platform(platform)
        save_customer_profile(self.state_dir, profile)
        self.customer_profile = profile
        return profile

    def healthy(self) -> bool:
        return all(worker.healthy for worker in self.workers.values()) and not any(
            task.done() for task in (*self._tasks, *self._worker_tasks)
        )

    async def _maintain(self, notifier: JobNotifier) -> None:
        """Expire jobs stuck behind a held one, and prune finished jobs past retention."""
        next_prune = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                # Personal data from scans leaves the replay ring even when nothing new
                # is published.
                self.events.forget_expired()
                for job in await self.store.expire_overdue(datetime.now(UTC)):
                    notifier.changed(job)
                if loop.time() >= next_prune:
                    retention = timedelta(hours=self.config.jobs.retention_hours)
                    pruned = await self.store.prune(finished_before=datetime.now(UTC) - retention)
                    if pruned:
                        log.info("pruned %d finished jobs", pruned)
                    next_prune = loop.time() + PRUNE_INTERVAL_S
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job maintenance failed; trying again")
            await asyncio.sleep(MAINTENANCE_INTERVAL_S)

    async def aclose(self) -> None:
        # A clean stop lets the batch on the wire finish (otherwise it would be in_doubt
        # after the restart), within a bound well under systemd's stop timeout.
        for worker in self.workers.values():
            worker.stop()
        if self._worker_tasks:
            await asyncio.wait(self._worker_tasks, timeout=SHUTDOWN_GRACE_S)
        await cancel_and_wait(self._worker_tasks)
        await cancel_and_wait(self._tasks)
        await self.devices.aclose()
        await self.store.aclose()
        if self._fiscal is not None:
            await self._fiscal.aclose()
        await asyncio.to_thread(self.catalog.close)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the state directory
            self._lock_fd = -1
