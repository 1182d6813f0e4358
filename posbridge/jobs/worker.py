"""One worker per device: takes that device's jobs in FIFO order and sends them.

The worker never reprints on its own. Jobs are marked ``sending`` (committed) before
their first byte leaves, so a crash mid-send leaves them ``sending`` and recovery turns
them into ``in_doubt`` for a person to decide. If the link fails before any byte was
accepted, the jobs simply wait (``held``: disconnected) and are sent once the device is
back.

While the printer cannot print (paper out, cover open, offline, unreachable) the job at
the head is ``held`` and the ones behind it wait: receipts come out in the order they
were accepted. A job whose deadline passes while waiting expires instead of printing
late.

When several jobs are waiting, up to ``MAX_BATCH_JOBS`` of them go out together: one
status check, one commit to ``sending`` (the store groups the transitions), one write,
one confirmation, one commit to ``done``. A busy till's queue drains at the printer's
pace instead of at one round of commits per receipt. The price: if the link breaks in
the middle of such a write, every job of that write is ``in_doubt``, since nobody can
tell which of them printed.

When the printer is idle and ready (by the status it pushed) and nothing waits, a new
job skips the queue: the request commits it straight as ``sending`` (``try_claim``) and
hands it over (``send_claimed``), saving a commit and a look at the store. A crash
between that commit and the write reports the job ``in_doubt``: never a silent reprint.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import UTC, datetime

from drivers.errors import ConnectFailed, DeviceError
from posbridge.devices import LabelPrinterDevice, PrinterDevice
from posbridge.events import EventBus
from posbridge.jobs.errors import InvalidTransition
from posbridge.jobs.models import Job, JobState
from posbridge.jobs.parts import send_in_parts
from posbridge.jobs.store import JobStore
from posbridge.jobs.waiters import JobWaiters

__all__ = ["DeviceWorker", "JobNotifier"]

log = logging.getLogger(__name__)

IDLE_WAKE_S = 5.0
HELD_RECHECK_S = 0.5
PAUSED_RECHECK_S = 0.5
PAYLOAD_CACHE_JOBS = 256
PAYLOAD_CACHE_BYTES = 8 * 1024 * 1024
MAX_BATCH_JOBS = 16
MAX_BATCH_BYTES = 64 * 1024


class JobNotifier:
    """Publishes every job change to the event bus and to ``?wait=`` waiters."""

    def __init__(self, events: EventBus, waiters: JobWaiters) -> None:
        self.events = events
        self.waiters = waiters

    def changed(self, job: Job) -> None:
        self.events.publish("job.state", job.device_id, job.to_public())
        self.waiters.changed(job)


class DeviceWorker:
    def __init__(self, device: PrinterDevice, store: JobStore, notifier: JobNotifier) -> None:
        self.device = device
        self.store = store
        self.notifier = notifier
        self.healthy = True
        self._wake = asyncio.Event()
        # Payloads of jobs just accepted, so sending them needs no database read. Bounded:
        # a job whose payload fell out (printer offline for long) is read from the store.
        self._payloads: OrderedDict[str, bytes] = OrderedDict()
        self._payload_bytes = 0
        self._stopping = False
        # The idle fast path: when the device is idle and ready, a job is committed
        # straight as 'sending' and handed over here, skipping the queue's round of
        # database work. ``_known_empty`` says the store holds no waiting job for this
        # device; ``_news`` counts offers and wakes, so a look at the store that raced
        # with a new job does not count as "empty".
        self._busy = False
        self._known_empty = False
        self._news = 0
        self._claimed: tuple[Job, bytes] | None = None

    def wake(self) -> None:
        """A job for this device was queued (or re-queued): look now."""
        self._news += 1
        self._known_empty = False
        self._wake.set()

    async def try_claim(self) -> bool:
        """Whether a new job may skip the queue: nothing waits, nothing is being sent, and
        the printer, by what it pushed last, can print. If True, the caller commits the job
        as 'sending' and then calls ``send_claimed`` (or ``release`` if it did not)."""
        device = self.device
        if self._stopping or self._busy or not self._known_empty or device.lock.locked():
            return False
        if not device.pushes_status:
            return False  # without pushed status, readiness needs a round trip anyway
        self._busy = True
        try:
            async with device.lock:
                status = await device.current_status()
        except DeviceError:
            self.release()
            return False
        if status.blocking_reason is not None or not self._known_empty:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Give up a claim: the job goes the usual way."""
        self._busy = False
        self._wake.set()

    def send_claimed(self, job: Job, payload: bytes) -> None:
        """Send a job that ``try_claim`` allowed and that is committed as 'sending'."""
        self._claimed = (job, payload)
        self._wake.set()

    def offer(self, job_id: str, payload: bytes) -> None:
        """A job was committed for this device: remember its bytes and look now."""
        self._news += 1
        self._known_empty = False
        self._payloads[job_id] = payload
        self._payload_bytes += len(payload)
        while len(self._payloads) > PAYLOAD_CACHE_JOBS or (
            self._payload_bytes > PAYLOAD_CACHE_BYTES and len(self._payloads) > 1
        ):
            _, dropped = self._payloads.popitem(last=False)
            self._payload_bytes -= len(dropped)
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Take no new jobs; the batch being sent (if any) is finished first."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        # On stop, a job already claimed (committed as 'sending') is still sent.
        while not self._stopping or self._claimed is not None or self._busy:
            self._wake.clear()
            try:
                if self._claimed is not None:
                    job, payload = self._claimed
                    self._claimed = None
                    try:
                        await self._send_claimed(job, payload)
                    finally:
                        self._busy = False
                    continue
                if self._busy:  # a claim is being committed: its job comes next
                    await self._sleep_until_woken()
                    continue
                if self._known_empty and await self._sleep_until_woken() and self._known_empty:
                    continue  # woken without news (a claim given up, a stop): nothing to read
                news = self._news
                self._busy = True
                try:
                    jobs = await self.store.next_jobs_for_device(self.device.id, MAX_BATCH_JOBS)
                    if jobs and not self._stopping:
                        await self._process(jobs)
                finally:
                    self._busy = False
                if not jobs:
                    self._known_empty = news == self._news
                    if not self._known_empty:
                        continue  # a job arrived while we looked: look again
                else:
                    self._known_empty = False  # look again: more may be waiting
                self.healthy = True  # a full turn, idle or not: the worker works
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug must not silently stop a till's printing; log it, report unhealthy
                # (the systemd watchdog then restarts us if it persists) and keep going.
                self.healthy = False
                log.exception("worker for %s failed; retrying", self.device.id)
                await asyncio.sleep(1.0)

    async def _sleep_until_woken(self) -> bool:
        """Wait for a wake-up; False when IDLE_WAKE_S passed without one (then the store is
        read anyway, as a safety net)."""
        try:
            async with asyncio.timeout(IDLE_WAKE_S):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def _transition(self, job: Job, to: JobState, **kwargs: object) -> Job | None:
        try:
            changed = await self.store.transition(job.id, to, **kwargs)  # type: ignore[arg-type]
        except InvalidTransition:
            return None  # cancelled (or otherwise moved on) under our feet
        self.notifier.changed(changed)
        return changed

    async def _transition_all(self, jobs: list[Job], to: JobState, **kwargs: object) -> list[Job]:
        """Move every job at once; the store commits them together. Returns those that moved."""
        moved = await asyncio.gather(*(self._transition(job, to, **kwargs) for job in jobs))
        return [job for job in moved if job is not None]

    @staticmethod
    def _overdue(job: Job, now: datetime) -> bool:
        return job.deadline_at is not None and now >= job.deadline_at

    async def _expire(self, job: Job) -> None:
        await self._transition(
            job,
            JobState.EXPIRED,
            expect={JobState.QUEUED, JobState.HELD},
            error_code="deadline_passed",
            error_detail="the deadline passed before the device could take the job",
        )

    async def _hold(self, job: Job, reason: str) -> None:
        if job.state is not JobState.HELD or job.held_reason != reason:
            await self._transition(
                job, JobState.HELD, expect={JobState.QUEUED, JobState.HELD}, held_reason=reason
            )

    def _batch(self, jobs: list[Job]) -> list[Job]:
        """The head job and the queued ones right behind it, within the batch limits."""
        batch, size = [jobs[0]], jobs[0].bytes_total
        for job in jobs[1:]:
            size += job.bytes_total
            if job.state is not JobState.QUEUED or size > MAX_BATCH_BYTES:
                break
            batch.append(job)
        return batch

    async def _process(self, jobs: list[Job]) -> None:
        now = datetime.now(UTC)
        overdue = [job for job in jobs if self._overdue(job, now)]
        if overdue:
            for job in overdue:
                await self._expire(job)
            return  # look again: the head has changed
        head = jobs[0]
        if head.parted and isinstance(self.device, LabelPrinterDevice):
            await send_in_parts(self, self.device, head, await self._payload(head))
            return
        async with self.device.lock:
            try:
                status = await self.device.current_status()
                reason = status.blocking_reason
            except DeviceError:
                reason = "disconnected"
            sent: list[Job] = []
            if reason is None:
                # Deadlines are checked again right before the bytes leave: a drawer
                # kick held for a minute must not fire now.
                now = datetime.now(UTC)
                batch = [job for job in self._batch(jobs) if not self._overdue(job, now)]
                sent = await self._send(batch) if batch else []
        if sent:
            await self._confirm_or_doubt(sent)
        elif reason is not None:
            await self._hold(jobs[0], reason)
            await self.device.wait_changed(HELD_RECHECK_S)

    async def _payload(self, job: Job) -> bytes:
        payload = self._payloads.pop(job.id, None)
        if payload is None:
            return await self.store.payload(job.id)
        self._payload_bytes -= len(payload)
        return payload

    async def _send(self, jobs: list[Job]) -> list[Job]:
        """Send under the device lock; the jobs, still ``sending``, whose bytes went out."""
        sending = await self._transition_all(
            jobs, JobState.SENDING, expect={JobState.QUEUED, JobState.HELD}, attempts_inc=True
        )
        if not sending:
            return []
        try:
            payload = b"".join([await self._payload(job) for job in sending])
        except Exception:
            # Nothing was sent: give the jobs back to the queue, then let run() report it.
            await self._transition_all(sending, JobState.QUEUED, expect={JobState.SENDING})
            raise
        return await self._transmit(sending, payload)

    async def _send_claimed(self, job: Job, payload: bytes) -> None:
        async with self.device.lock:
            sent = await self._transmit([job], payload)
        if sent:
            await self._confirm_or_doubt(sent)
        self._known_empty = self._known_empty and bool(sent)

    async def _transmit(self, sending: list[Job], payload: bytes) -> list[Job]:
        """Write the bytes of jobs already committed as 'sending'; those that went out."""
        try:
            await self.device.write(payload)
        except ConnectFailed:
            # Nothing left this box: safe to try again once the device is back.
            await self._transition_all(sending, JobState.QUEUED, expect={JobState.SENDING})
            return []
        except DeviceError as exc:
            await self._in_doubt(
                sending,
                exc,
                f"the link to {self.device.id} failed while sending ({exc}); part of the "
                "receipt may have printed",
            )
            return []
        except Exception as exc:
            # Not a device error (a bug, the OS): the bytes may be out all the same, and a
            # job left in 'sending' would wait for a restart to be reported.
            await self._in_doubt(sending, exc, f"sending to {self.device.id} failed ({exc})")
            raise
        return sending

    async def _in_doubt(self, jobs: list[Job], exc: Exception, what_happened: str) -> None:
        await self._transition_all(
            jobs,
            JobState.IN_DOUBT,
            expect={JobState.SENDING},
            error_code=getattr(exc, "code", "internal_error"),
            error_detail=f"{what_happened}: check the printout, then retry or cancel",
        )

    async def _confirm_or_doubt(self, jobs: list[Job]) -> None:
        try:
            await self._confirm(jobs)
        except Exception as exc:
            await self._in_doubt(jobs, exc, f"confirming the job failed ({exc})")
            raise

    async def _confirm(self, jobs: list[Job]) -> None:
        """Wait until the printer has taken the jobs: a printer paused mid-receipt (paper
        out) keeps the rest in its buffer and finishes it by itself once it can print."""
        while True:
            try:
                async with self.device.lock:
                    status = await self.device.refresh_status()
            except DeviceError as exc:
                await self._in_doubt(
                    jobs,
                    exc,
                    f"{self.device.id} stopped answering right after the job was sent ({exc})",
                )
                return
            if status.blocking_reason is None:
                # No fsync for 'done': lost in a power cut, the job comes back in_doubt.
                await self._transition_all(
                    jobs, JobState.DONE, expect={JobState.SENDING}, durable=False
                )
                return
            await self.device.wait_changed(PAUSED_RECHECK_S)
