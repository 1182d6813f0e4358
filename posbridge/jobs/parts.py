"""Sending a job in parts: a batch of hang tags, one ZPL format per tag.

A batch of thousands of tags is one job, sent a chunk of parts at a time. For each
chunk, the end of the chunk is committed as ``parts_sent`` before its bytes leave;
once the printer reports it has printed everything (``~HS``: nothing buffered, no label
remaining), ``parts_done`` and the label count are committed and published as progress.
So at any moment at most one chunk is in flight, and after a crash exactly that chunk
is reported in doubt (``tags_in_doubt``) while the rest of the batch goes on by itself.

While the printer cannot print (media out, head open, paused) the job is ``held``: a
printer keeps the formats it already has and prints them once it can, so nothing is
sent again; the next chunk leaves only when the printer is ready. A cancel takes effect
after the chunk in flight. A link that breaks mid-chunk puts that chunk in doubt and the
batch goes on with the next one once the printer is back.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from drivers.errors import ConnectFailed, DeviceError
from posbridge.devices import LabelPrinterDevice
from posbridge.jobs.models import Job, JobState, PartEnd

if TYPE_CHECKING:
    from posbridge.jobs.worker import DeviceWorker

__all__ = ["CHUNK_BYTES", "CHUNK_PARTS", "send_in_parts"]

CHUNK_PARTS = 16  # tags in flight at most: what a crash can leave in doubt
CHUNK_BYTES = 64 * 1024
HELD_RECHECK_S = 0.5
POLL_FIRST_S = 0.002  # an emulator has printed at once; a real printer takes a while
POLL_MAX_S = 0.25


def _chunk_end(parts: list[PartEnd], start: int) -> int:
    first_byte = parts[start - 1].end if start else 0
    end = start + 1
    while (
        end < len(parts)
        and end - start < CHUNK_PARTS
        and parts[end].end - first_byte <= CHUNK_BYTES
    ):
        end += 1
    return end


class _Batch:
    def __init__(self, worker: DeviceWorker, device: LabelPrinterDevice, job: Job) -> None:
        self.worker = worker
        self.store = worker.store
        self.device = device
        self.job = job
        self.cancelled = False

    def _took(self, job: Job) -> None:
        self.job = job
        self.cancelled = job.state is JobState.CANCELLED
        self.worker.notifier.changed(job)

    async def _move(self, to: JobState, expect: set[JobState], **kwargs: object) -> bool:
        moved = await self.worker._transition(self.job, to, expect=expect, **kwargs)
        if moved is None:
            current = await self.store.get(self.job.id)
            if current is not None:
                self.job = current
            self.cancelled = True  # cancelled (or otherwise finished) under our feet
            return False
        self.job = moved
        return True

    async def _hold(self, reason: str) -> None:
        if self.job.state is not JobState.HELD or self.job.held_reason != reason:
            await self._move(
                JobState.HELD, {JobState.SENDING, JobState.HELD}, held_reason=reason
            )

    async def _status_reason(self) -> str | None:
        async with self.device.lock:
            try:
                status = await self.device.refresh_status()
            except DeviceError:
                return "disconnected"
        return status.blocking_reason

    async def run(self, parts: list[PartEnd], payload: bytes) -> None:
        if not await self._move(
            JobState.SENDING, {JobState.QUEUED, JobState.HELD}, attempts_inc=True
        ):
            return
        pos = self.job.parts_done
        # A daemon that stops leaves the batch 'sending' with nothing in flight: it goes
        # on from here at the next start, with no tag in doubt.
        while pos < len(parts) and not self.cancelled and not self.worker.stopping:
            reason = await self._status_reason()
            if reason is not None:
                await self._hold(reason)
                await self.device.wait_changed(HELD_RECHECK_S)
                continue
            if self.job.state is JobState.HELD and not await self._move(
                JobState.SENDING, {JobState.HELD}
            ):
                return
            end = _chunk_end(parts, pos)
            pos = await self._send_chunk(parts, payload, pos, end)
        if self.cancelled or pos < len(parts):
            return
        if self.job.state is JobState.HELD and not await self._move(
            JobState.SENDING, {JobState.HELD}
        ):
            return
        await self._move(JobState.DONE, {JobState.SENDING})

    async def _send_chunk(self, parts: list[PartEnd], payload: bytes, start: int, end: int) -> int:
        """Send parts ``[start, end)``; the position to go on from."""
        self._took(await self.store.parts_sending(self.job.id, end))
        if self.cancelled:
            await self.store.parts_sending(self.job.id, start)  # nothing of it left
            return start
        first = parts[start - 1].end if start else 0
        async with self.device.lock:
            try:
                await self.device.write(payload[first : parts[end - 1].end])
            except ConnectFailed:
                # Nothing left this box: the chunk is sent again once the printer is back.
                await self.store.parts_sending(self.job.id, start)
                return start
            except DeviceError:
                self._took(await self.store.parts_in_doubt(self.job.id, end))
                return end
        if await self._wait_printed():
            units = sum(part.units for part in parts[start:end])
            self._took(await self.store.parts_printed(self.job.id, end, units))
        else:
            self._took(await self.store.parts_in_doubt(self.job.id, end))
        return end

    async def _wait_printed(self) -> bool:
        """Poll ``~HS`` until the printer printed all it was sent; False if the link broke
        first (then nobody knows what printed). A blocked printer holds the job."""
        pause = POLL_FIRST_S
        while True:
            async with self.device.lock:
                try:
                    status = await self.device.refresh_status()
                except DeviceError:
                    return False
            if status.idle:
                return True
            reason = status.blocking_reason
            if reason is not None and not self.cancelled:
                await self._hold(reason)
                await self.device.wait_changed(HELD_RECHECK_S)
            else:
                await asyncio.sleep(pause)
                pause = min(pause * 2, POLL_MAX_S)


async def send_in_parts(
    worker: DeviceWorker, device: LabelPrinterDevice, job: Job, payload: bytes
) -> None:
    """Print the rest of a job sent in parts, from where it stood."""
    parts = await worker.store.parts_index(job.id)
    batch = _Batch(worker, device, job)
    try:
        await batch.run(parts, payload)
    except Exception:
        # Not a device error (a bug, the OS): the chunk on the wire may have printed, so
        # it is put in doubt, and the rest of the batch goes back to the queue instead of
        # sitting in 'sending' until the next restart. The worker logs the error.
        current = await worker.store.get(job.id)
        if current is not None and current.state is JobState.SENDING:
            if current.parts_sent > current.parts_done:
                current = await worker.store.parts_in_doubt(job.id, current.parts_sent)
            moved = await worker._transition(current, JobState.QUEUED, expect={JobState.SENDING})
            if moved is None:
                worker.notifier.changed(current)
        raise
