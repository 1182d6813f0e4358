"""One worker per device: takes that device's jobs in FIFO order and sends them.

The worker never reprints on its own. A job is marked ``sending`` (committed) before its
first byte leaves, so a crash mid-send leaves it ``sending`` and recovery turns it into
``in_doubt`` for a person to decide. If the link fails before any byte was accepted, the
job simply waits (``held``: disconnected) and is sent once the device is back.

While the printer cannot print (paper out, cover open, offline, unreachable) the job at the
head is ``held`` and the ones behind it wait: receipts come out in the order they were
accepted. A job whose deadline passes while waiting expires instead of printing late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import UTC, datetime

from drivers.errors import ConnectFailed, DeviceError
from posbridge.devices import Device
from posbridge.events import EventBus
from posbridge.jobs.errors import InvalidTransition
from posbridge.jobs.models import Job, JobState
from posbridge.jobs.store import JobStore
from posbridge.jobs.waiters import JobWaiters

__all__ = ["DeviceWorker", "JobNotifier"]

log = logging.getLogger(__name__)

IDLE_WAKE_S = 5.0
PAYLOAD_CACHE_JOBS = 256
HELD_RECHECK_S = 0.5
# After the bytes went out, how long the printer may stay paused (paper out mid-receipt)
# before we keep waiting with the job still marked sending.
PAUSED_RECHECK_S = 0.5


class JobNotifier:
    """Publishes every job change to the event bus and to ``?wait=`` waiters."""

    def __init__(self, events: EventBus, waiters: JobWaiters) -> None:
        self.events = events
        self.waiters = waiters

    def changed(self, job: Job) -> None:
        self.events.publish("job.state", job.device_id, job.to_public())
        self.waiters.changed(job)


class DeviceWorker:
    def __init__(self, device: Device, store: JobStore, notifier: JobNotifier) -> None:
        self.device = device
        self.store = store
        self.notifier = notifier
        self.healthy = True
        self._wake = asyncio.Event()
        # Payloads of jobs just accepted, so sending them needs no database read. Bounded:
        # a job whose payload fell out (printer offline for long) is read from the store.
        self._payloads: OrderedDict[str, bytes] = OrderedDict()

    def wake(self) -> None:
        """A job for this device was queued (or re-queued): look now."""
        self._wake.set()

    def offer(self, job_id: str, payload: bytes) -> None:
        """A job was committed for this device: remember its bytes and look now."""
        self._payloads[job_id] = payload
        if len(self._payloads) > PAYLOAD_CACHE_JOBS:
            self._payloads.popitem(last=False)
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                job = await self.store.next_for_device(self.device.id)
                if job is None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(IDLE_WAKE_S):
                            await self._wake.wait()
                    continue
                await self._process(job)
                self.healthy = True
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug must not silently stop a till's printing; log it, report unhealthy
                # (the systemd watchdog then restarts us if it persists) and keep going.
                self.healthy = False
                log.exception("worker for %s failed; retrying", self.device.id)
                await asyncio.sleep(1.0)

    async def _transition(self, job: Job, to: JobState, **kwargs: object) -> Job | None:
        try:
            changed = await self.store.transition(job.id, to, **kwargs)  # type: ignore[arg-type]
        except InvalidTransition:
            return None  # cancelled (or otherwise moved on) under our feet
        self.notifier.changed(changed)
        return changed

    def _overdue(self, job: Job) -> bool:
        return job.deadline_at is not None and datetime.now(UTC) >= job.deadline_at

    async def _hold(self, job: Job, reason: str) -> None:
        if job.state is not JobState.HELD or job.held_reason != reason:
            await self._transition(
                job, JobState.HELD, expect={JobState.QUEUED, JobState.HELD}, held_reason=reason
            )

    async def _process(self, job: Job) -> None:
        if self._overdue(job):
            await self._transition(
                job,
                JobState.EXPIRED,
                expect={JobState.QUEUED, JobState.HELD},
                error_code="deadline_passed",
                error_detail="the deadline passed before the device could take the job",
            )
            return
        async with self.device.lock:
            try:
                status = await self.device.refresh_status()
                reason = status.blocking_reason
            except DeviceError:
                reason = "disconnected"
            if reason is None and self._overdue(job):
                reason = "deadline"  # re-checked below by the next loop turn
            sent = await self._send(job) if reason is None else None
        if sent is not None:
            await self._confirm(sent)
        elif reason not in (None, "deadline"):
            await self._hold(job, reason)
            await self.device.wait_changed(HELD_RECHECK_S)

    async def _send(self, job: Job) -> Job | None:
        """Send under the device lock; the job, still ``sending``, if the bytes went out."""
        sending = await self._transition(
            job, JobState.SENDING, expect={JobState.QUEUED, JobState.HELD}, attempts_inc=True
        )
        if sending is None:
            return None
        payload = self._payloads.pop(job.id, None)
        if payload is None:
            payload = await self.store.payload(job.id)
        try:
            await self.device.write(payload)
        except ConnectFailed:
            # Nothing left this box: safe to try again once the device is back.
            await self._transition(sending, JobState.QUEUED, expect={JobState.SENDING})
            return None
        except DeviceError as exc:
            await self._transition(
                sending,
                JobState.IN_DOUBT,
                expect={JobState.SENDING},
                error_code=exc.code,
                error_detail=(
                    f"the link to {self.device.id} failed while sending ({exc}); part of the "
                    "receipt may have printed: check the printer, then retry or cancel"
                ),
            )
            return None
        return sending

    async def _confirm(self, job: Job) -> None:
        """Wait until the printer has taken the job: a printer paused mid-receipt (paper out)
        keeps the rest in its buffer and finishes it by itself once it can print again."""
        while True:
            try:
                async with self.device.lock:
                    status = await self.device.refresh_status()
            except DeviceError as exc:
                await self._transition(
                    job,
                    JobState.IN_DOUBT,
                    expect={JobState.SENDING},
                    error_code=exc.code,
                    error_detail=(
                        f"{self.device.id} stopped answering right after the job was sent "
                        f"({exc}); check the printout, then retry or cancel"
                    ),
                )
                return
            if status.blocking_reason is None:
                await self._transition(job, JobState.DONE, expect={JobState.SENDING})
                return
            await self.device.wait_changed(PAUSED_RECHECK_S)
