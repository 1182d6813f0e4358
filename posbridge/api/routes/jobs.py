"""``/v1/jobs``: look at jobs, wait for them, cancel them, retry the ones in doubt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from posbridge.api.deps import RuntimeDep
from posbridge.api.errors import Problem
from posbridge.api.submit import job_response, wait_for_job
from posbridge.jobs.errors import InvalidQuery, InvalidTransition, JobNotFound
from posbridge.jobs.models import Job, JobKind, JobState
from posbridge.runtime import Runtime

router = APIRouter(tags=["jobs"])


def _not_found(job_id: str) -> Problem:
    return Problem(404, "job_not_found", "Unknown job", f"no job with id {job_id!r}")


async def _job_or_404(runtime: Runtime, job_id: str) -> Job:
    job = await runtime.store.get(job_id)
    if job is None:
        raise _not_found(job_id)
    return job


@router.get("/v1/jobs")
async def list_jobs(
    runtime: RuntimeDep,
    device_id: str | None = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    kind: JobKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, object]:
    try:
        page = await runtime.store.list(
            device_id=device_id, states=state, kind=kind, limit=limit, cursor=cursor
        )
    except InvalidQuery as exc:
        raise Problem(400, exc.code, "Invalid listing", str(exc)) from exc
    return {"jobs": [job.to_public() for job in page.jobs], "next_cursor": page.next_cursor}


@router.get("/v1/jobs/{job_id}")
async def get_job(
    job_id: str, runtime: RuntimeDep, wait: Annotated[float, Query(ge=0, le=300)] = 0
) -> dict[str, object]:
    job = await wait_for_job(runtime, job_id, wait) if wait else await runtime.store.get(job_id)
    if job is None:
        raise _not_found(job_id)
    return job.to_public()


async def _move(runtime: Runtime, job_id: str, to: JobState, expect: set[JobState]) -> Job:
    try:
        job = await runtime.store.transition(job_id, to, expect=expect)
    except JobNotFound as exc:
        raise _not_found(job_id) from exc
    except InvalidTransition as exc:
        raise Problem(409, exc.code, "Not possible in this state", str(exc)) from exc
    runtime.notifier.changed(job)
    return job


@router.post("/v1/jobs/{job_id}/cancel")
async def cancel_job(job_id: str, runtime: RuntimeDep) -> Response:
    """Cancel a job that has not printed yet. A batch of labels (sent in parts) can be
    cancelled while it prints: it stops after the labels in flight."""
    cancellable = {JobState.QUEUED, JobState.HELD, JobState.IN_DOUBT}
    current = await runtime.store.get(job_id)
    if current is not None and current.parted:
        cancellable.add(JobState.SENDING)
    job = await _move(runtime, job_id, JobState.CANCELLED, cancellable)
    return job_response(job, 200)


@router.post("/v1/jobs/{job_id}/retry")
async def retry_job(job_id: str, runtime: RuntimeDep) -> Response:
    """Send an ``in_doubt`` job again: the person at the till checked it did not print."""
    job = await _move(runtime, job_id, JobState.QUEUED, {JobState.IN_DOUBT})
    worker = runtime.workers.get(job.device_id)
    if worker is not None:
        worker.wake()
    return job_response(job, 200)
