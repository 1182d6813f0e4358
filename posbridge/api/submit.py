"""Accepting work: idempotency, the durable commit, waking the worker, ``?wait=``.

Every POST that creates a job goes through ``accept_job``: the device bytes are already
rendered (bad input was refused before this point), the job and its idempotency key are
committed in one transaction, and only then does the client get its 202.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response

from posbridge.api.errors import Problem
from posbridge.devices import PrinterDevice
from posbridge.jobs.errors import IdempotencyConflict
from posbridge.jobs.models import TERMINAL, Job, JobKind, JobState, NewJob, PartEnd
from posbridge.runtime import Runtime

__all__ = ["accept_job", "job_response", "wait_for_job"]

_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
SETTLED = TERMINAL | {JobState.IN_DOUBT}


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _KEY_RE.match(key):
        raise Problem(
            400,
            "invalid_idempotency_key",
            "Invalid Idempotency-Key",
            "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
        )
    return key


def job_response(job: Job, status: int = 202) -> Response:
    from fastapi.responses import JSONResponse

    return JSONResponse(
        job.to_public(), status_code=status, headers={"Location": f"/v1/jobs/{job.id}"}
    )


async def wait_for_job(
    runtime: Runtime, job_id: str, wait: float, known: Job | None = None
) -> Job | None:
    """The job once it has settled (done, failed, ..., in_doubt) or ``wait`` seconds passed.

    ``known`` is the job as the caller last saw it, when nothing can have changed it
    since (saves a read); otherwise the job is read after the watch is in place, so no
    change slips between the read and the watch."""
    import asyncio
    import contextlib

    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, runtime.config.jobs.max_wait_s)
    with runtime.waiters.watch(job_id) as watch:
        job = known or await runtime.store.get(job_id)
        while True:
            remaining = deadline - loop.time()
            if job is None or job.state in SETTLED or remaining <= 0:
                return job
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await watch.event.wait()
            watch.event.clear()
            # Notifications come in commit order, so the latest one is the newest state.
            job = watch.latest or job


async def accept_job(
    runtime: Runtime,
    request: Request,
    device: PrinterDevice,
    kind: JobKind,
    payload: bytes,
    deadline_s: float,
    wait: float,
    *,
    parts: tuple[PartEnd, ...] = (),
) -> Response:
    key = _idempotency_key(request)
    fingerprint = None
    if key is not None:
        body = await request.body()
        fingerprint = hashlib.sha256(body).hexdigest()
    worker = runtime.workers[device.id]
    # An idle, ready printer takes the job at once: committed straight as 'sending'.
    claimed = not parts and await worker.try_claim()
    new = NewJob(
        device_id=device.id,
        kind=kind,
        payload=payload,
        deadline_at=datetime.now(UTC) + timedelta(seconds=deadline_s),
        idempotency_key=key,
        request_fingerprint=fingerprint,
        idempotency_scope=f"{request.method} {request.url.path}",
        parts=parts,
        sending=claimed,
    )
    try:
        result = await runtime.store.submit(new)
    except BaseException as exc:
        if claimed:
            worker.release()
        if isinstance(exc, IdempotencyConflict):
            raise Problem(409, exc.code, "Idempotency key reused", str(exc)) from exc
        raise
    if result.replayed and claimed:
        worker.release()
    if result.replayed:
        return Response(
            result.first_response_json,
            status_code=202,
            media_type="application/json",
            headers={"Location": f"/v1/jobs/{result.job.id}", "Idempotent-Replayed": "true"},
        )
    runtime.notifier.changed(result.job)
    if claimed:
        worker.send_claimed(result.job, payload)
    else:
        worker.offer(result.job.id, payload)
    job = result.job
    if wait > 0:
        # A claimed job is only touched by its worker after send_claimed, which cannot run
        # before the watch is set up (no await in between), so the committed job is current.
        job = await wait_for_job(runtime, job.id, wait, job if claimed else None) or job
    return job_response(job)
