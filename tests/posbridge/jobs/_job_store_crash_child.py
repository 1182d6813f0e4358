"""Submits jobs until killed, printing each id only after ``submit`` returned.

Usage: python _job_store_crash_child.py DB_PATH. Lines: ``Q <id> <tag>`` once the job
is accepted (payload = tag * 64), ``S <id>`` once it is committed as ``sending``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from posbridge.jobs import JobKind, JobState, JobStore, NewJob


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def submitter(store: JobStore, lane: int) -> None:
    n = 0
    while True:
        tag = f"{lane}-{n}"
        result = await store.submit(NewJob(f"dev-{lane % 3}", JobKind.RECEIPT, tag.encode() * 64))
        emit(f"Q {result.job.id} {tag}")
        if n % 4 == 0:
            await store.transition(result.job.id, JobState.SENDING, expect={JobState.QUEUED})
            emit(f"S {result.job.id}")
        n += 1


async def main(path: Path) -> None:
    store = await JobStore.open(path)
    emit("READY")
    await asyncio.gather(*(submitter(store, lane) for lane in range(8)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
