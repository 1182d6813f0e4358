"""SIGKILL a process that is submitting jobs: every job it reported accepted survives."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from posbridge.jobs import JobState, JobStore

CHILD = Path(__file__).with_name("_job_store_crash_child.py")
REPO = Path(__file__).resolve().parents[3]


async def _run_and_kill(db: Path, rng: random.Random) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(db), stdout=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            assert (await proc.stdout.readline()) == b"READY\n"
            wanted = rng.randint(20, 600)
            while len(lines) < wanted:
                line = await proc.stdout.readline()
                assert line, "child exited early"
                lines.append(line.decode())
            await asyncio.sleep(rng.uniform(0, 0.05))
    finally:
        proc.send_signal(signal.SIGKILL)
    # Whatever reached the pipe before the kill was reported as accepted too.
    rest = await proc.stdout.read()
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    lines += rest.decode().splitlines(keepends=True)
    # A line cut by the kill was never fully reported: ignore it.
    return [line.rstrip("\n") for line in lines if line.endswith("\n")]


@pytest.mark.slow
async def test_every_reported_job_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    rng = random.Random()
    accepted: dict[str, str] = {}
    sending: set[str] = set()
    for _round in range(3):
        for line in await _run_and_kill(db, rng):
            fields = line.split()
            if fields[0] == "Q":
                accepted[fields[1]] = fields[2]
            elif fields[0] == "S":
                sending.add(fields[1])
        assert accepted, "the child reported nothing before it was killed"

        store = await JobStore.open(db)
        try:
            for job_id, tag in accepted.items():
                job = await store.get(job_id)
                assert job is not None, f"{job_id} was reported accepted but is gone"
                assert await store.payload(job_id) == tag.encode() * 64
                if job_id in sending:
                    # Caught mid-send: never silently reprinted, flagged for a human.
                    assert job.state is JobState.IN_DOUBT
                else:
                    assert job.state in {JobState.QUEUED, JobState.IN_DOUBT}
            assert not (await store.counts())[JobState.SENDING.value]
        finally:
            await store.aclose()
