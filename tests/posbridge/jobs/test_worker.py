"""The device worker against a real job store and the in-process emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from posbridge.config import parse_config
from posbridge.devices import DeviceManager
from posbridge.events import EventBus
from posbridge.jobs.errors import JobStoreError
from posbridge.jobs.models import Job, JobKind, JobState, NewJob
from posbridge.jobs.store import JobStore
from posbridge.jobs.waiters import JobWaiters
from posbridge.jobs.worker import DeviceWorker, JobNotifier


class _StoreFailingOnce(JobStore):
    """A store whose first look for work fails, as a full disk or a locked file would."""

    failed = False

    async def next_jobs_for_device(self, device_id: str, limit: int) -> list[Job]:
        if not self.failed:
            self.failed = True
            raise JobStoreError("job database error: disk I/O error")
        return await super().next_jobs_for_device(device_id, limit)


async def _worker(
    store: JobStore, waiters: JobWaiters | None = None
) -> tuple[DeviceWorker, DeviceManager]:
    config = parse_config(
        {"devices": [{"id": "r", "kind": "receipt_printer", "url": "emu://escpos/r"}]}
    )
    events = EventBus()
    devices = DeviceManager(config.devices, events)
    notifier = JobNotifier(events, waiters or JobWaiters())
    worker = DeviceWorker(devices.printers()["r"], store, notifier)
    return worker, devices


async def test_worker_is_healthy_again_after_a_passing_failure(tmp_path: Path) -> None:
    store = await _StoreFailingOnce.open(tmp_path / "jobs.sqlite3")
    assert isinstance(store, _StoreFailingOnce)
    worker, devices = await _worker(store)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.1)
        assert store.failed and not worker.healthy
        async with asyncio.timeout(5):
            while not worker.healthy:  # the next full turn, with an empty queue
                worker.wake()
                await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
        await devices.aclose()
        await store.aclose()


async def test_stop_ends_the_worker_after_its_batch(tmp_path: Path) -> None:
    store = await JobStore.open(tmp_path / "jobs.sqlite3")
    waiters = JobWaiters()
    worker, devices = await _worker(store, waiters)
    accepted = await store.submit(NewJob("r", JobKind.RAW, b"hello\n"))
    task = asyncio.create_task(worker.run())
    try:
        with waiters.watch(accepted.job.id) as watch:
            worker.offer(accepted.job.id, b"hello\n")
            async with asyncio.timeout(5):
                while watch.latest is None or watch.latest.state is not JobState.DONE:
                    await watch.event.wait()
                    watch.event.clear()
        worker.stop()
        await asyncio.wait_for(task, 5)
        assert task.done() and task.exception() is None
    finally:
        await devices.aclose()
        await store.aclose()


async def test_an_idle_ready_printer_takes_a_claimed_job_at_once(tmp_path: Path) -> None:
    store = await JobStore.open(tmp_path / "jobs.sqlite3")
    waiters = JobWaiters()
    worker, devices = await _worker(store, waiters)
    device = devices.printers()["r"]
    async with device.lock:
        await device.refresh_status()  # connects, and turns pushed status on
    assert device.pushes_status
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(5):
            # Polled: the worker's first empty look at the store has no event of its own.
            while not await worker.try_claim():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        accepted = await store.submit(NewJob("r", JobKind.RAW, b"fast\n", sending=True))
        assert accepted.job.state is JobState.SENDING
        with waiters.watch(accepted.job.id) as watch:
            worker.send_claimed(accepted.job, b"fast\n")
            async with asyncio.timeout(5):
                while watch.latest is None or watch.latest.state is not JobState.DONE:
                    await watch.event.wait()
                    watch.event.clear()
        emulator = device.emulator()
        assert emulator is not None and emulator.output_text().count("fast") == 1

        # A printer out of paper takes no claim: the job must queue and wait.
        emulator.apply_faults({"paper": "out"})
        assert not await worker.try_claim()
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
        await devices.aclose()
        await store.aclose()

