"""Jobs sent in parts (a batch of labels) against a real store and the in-process ZPL
emulator: progress, the crash resume point, and a bug in the middle of a batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.zpl.emulator import ZplEmulator
from posbridge.config import parse_config
from posbridge.devices import DeviceManager, LabelPrinterDevice
from posbridge.events import EventBus
from posbridge.jobs.models import Job, JobKind, JobState, NewJob, PartEnd
from posbridge.jobs.parts import CHUNK_PARTS
from posbridge.jobs.store import JobStore
from posbridge.jobs.waiters import JobWaiters
from posbridge.jobs.worker import DeviceWorker, JobNotifier

TAGS = 40


def _batch(tags: int = TAGS, copies: int = 2) -> NewJob:
    formats = [
        f"^XA^FO10,10^A0N,30,30^FDtag {n:03d}^FS^PQ{copies}^XZ".encode() for n in range(tags)
    ]
    ends, end = [], 0
    for zpl in formats:
        end += len(zpl)
        ends.append(PartEnd(end, copies))
    return NewJob(
        device_id="l",
        kind=JobKind.HANG_TAGS,
        payload=b"".join(formats),
        deadline_at=datetime.now(UTC) + timedelta(hours=1),
        parts=tuple(ends),
    )


async def _run_until(
    store: JobStore, job_id: str, worker: DeviceWorker, done: set[JobState]
) -> Job:
    task = asyncio.create_task(worker.run())
    worker.wake()
    try:
        async with asyncio.timeout(10):
            while True:
                job = await store.get(job_id)
                assert job is not None
                if job.state in done:
                    return job
                await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def _setup(tmp_path: Path) -> tuple[JobStore, DeviceManager, DeviceWorker, ZplEmulator]:
    store = await JobStore.open(tmp_path / "jobs.sqlite3")
    config = parse_config({"devices": [{"id": "l", "kind": "label_printer", "url": "emu://zpl/l"}]})
    devices = DeviceManager(config.devices, EventBus())
    worker = DeviceWorker(devices.printers()["l"], store, JobNotifier(EventBus(), JobWaiters()))
    device = devices.printers()["l"]
    assert isinstance(device, LabelPrinterDevice)
    emulator = device.emulator()
    assert isinstance(emulator, ZplEmulator)
    return store, devices, worker, emulator


async def test_a_batch_prints_every_label_once_with_progress(tmp_path: Path) -> None:
    store, devices, worker, emulator = await _setup(tmp_path)
    try:
        job = (await store.submit(_batch())).job
        assert (job.parts_total, job.units_total) == (TAGS, 2 * TAGS)
        done = await _run_until(store, job.id, worker, {JobState.DONE})
        assert (done.parts_done, done.units_done, done.doubt) == (TAGS, 2 * TAGS, ())
        assert done.to_public()["labels_done"] == 2 * TAGS
        assert emulator.labels_printed == 2 * TAGS
    finally:
        await devices.aclose()
        await store.aclose()


async def test_after_a_crash_only_the_chunk_in_flight_is_in_doubt(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = await JobStore.open(path)
    job = (await store.submit(_batch())).job
    await store.transition(job.id, JobState.SENDING, expect={JobState.QUEUED})
    await store.parts_sending(job.id, CHUNK_PARTS)
    await store.parts_printed(job.id, CHUNK_PARTS, 2 * CHUNK_PARTS)
    await store.parts_sending(job.id, CHUNK_PARTS + 5)  # ... and then the daemon died
    await store.aclose()

    again = await JobStore.open(path)
    try:
        (resumed,) = again.recovered
        assert resumed.state is JobState.QUEUED
        assert resumed.parts_done == CHUNK_PARTS + 5
        assert [tuple(r) for r in resumed.doubt] == [(CHUNK_PARTS, CHUNK_PARTS + 5, 10)]
        public = resumed.to_public()
        assert (public["labels_in_doubt"], public["tags_done"]) == (10, CHUNK_PARTS)
    finally:
        await again.aclose()


async def test_a_bug_mid_batch_puts_the_chunk_in_doubt_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, devices, worker, emulator = await _setup(tmp_path)
    device = devices.printers()["l"]
    writes = 0
    real_write = device.write

    async def write_failing_second_chunk(payload: bytes) -> None:
        nonlocal writes
        writes += 1
        await real_write(payload)
        if writes == 2:
            raise RuntimeError("a bug after the bytes left")

    monkeypatch.setattr(device, "write", write_failing_second_chunk)
    try:
        job = (await store.submit(_batch())).job
        done = await _run_until(store, job.id, worker, {JobState.DONE})
        assert [tuple(r) for r in done.doubt] == [(CHUNK_PARTS, 2 * CHUNK_PARTS, 2 * CHUNK_PARTS)]
        assert done.units_done == 2 * (TAGS - CHUNK_PARTS)
        assert emulator.labels_printed == 2 * TAGS  # the chunk in doubt did print, once
    finally:
        await devices.aclose()
        await store.aclose()
