"""The durable job store against real SQLite files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from posbridge.jobs import (
    IN_DOUBT_DETAIL,
    TERMINAL,
    TRANSITIONS,
    IdempotencyConflict,
    InvalidQuery,
    InvalidTransition,
    Job,
    JobKind,
    JobNotFound,
    JobState,
    JobStore,
    JobStoreError,
    NewJob,
    StoreClosed,
    UnsupportedSchema,
)
from posbridge.jobs._schema import SCHEMA_VERSION

S = JobState


def receipt(device: str = "receipt-1", payload: bytes = b"\x1b@hello\n", **kw: Any) -> NewJob:
    return NewJob(device_id=device, kind=JobKind.RECEIPT, payload=payload, **kw)


async def state_of(store: JobStore, job_id: str) -> JobState:
    job = await store.get(job_id)
    assert job is not None, f"{job_id} missing"
    return job.state


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    s = await JobStore.open(tmp_path / "jobs.sqlite3")
    yield s
    await s.aclose()


async def test_submit_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "jobs.sqlite3"
    store = await JobStore.open(path)
    result = await store.submit(receipt(payload=b"A" * 3000))
    assert not result.replayed
    job = result.job
    assert job.state is S.QUEUED and job.bytes_total == 3000 and job.attempts == 0
    assert job.id.startswith("job_") and job.created_at.tzinfo is not None
    await store.aclose()

    # A plain sqlite connection sees the settings the durability promise rests on.
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    raw.close()

    again = await JobStore.open(path)
    try:
        assert await again.get(job.id) == job
        assert await again.payload(job.id) == b"A" * 3000
        assert again.recovered == []
    finally:
        await again.aclose()


async def test_first_response_and_public_form(store: JobStore) -> None:
    deadline = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    result = await store.submit(receipt(deadline_at=deadline))
    public = result.job.to_public()
    assert result.first_response == public
    assert json.loads(result.first_response_json) == public
    assert public["state"] == "queued" and public["kind"] == "receipt"
    assert public["deadline_at"] == "2030-01-02T03:04:05.678Z"
    assert public["created_at"].endswith("Z")
    assert "payload" not in public and "seq" not in public


async def test_idempotent_replay_returns_identical_first_answer(store: JobStore) -> None:
    new = receipt(idempotency_key="k1", request_fingerprint="sha-a", idempotency_scope="POST /r")
    first = await store.submit(new)
    # The job moves on; a replay still answers what the first call answered.
    await store.transition(first.job.id, S.SENDING, expect={S.QUEUED})
    replay = await store.submit(new)
    assert replay.replayed
    assert replay.job.id == first.job.id and replay.job.state is S.SENDING
    assert replay.first_response_json == first.first_response_json
    assert replay.first_response == first.first_response
    page = await store.list()
    assert len(page.jobs) == 1


async def test_idempotency_conflict_and_scopes(store: JobStore) -> None:
    first = await store.submit(
        receipt(idempotency_key="k", request_fingerprint="a", idempotency_scope="POST /r1")
    )
    with pytest.raises(IdempotencyConflict) as info:
        await store.submit(
            receipt(idempotency_key="k", request_fingerprint="b", idempotency_scope="POST /r1")
        )
    assert info.value.code == "idempotency_conflict"
    assert first.job.id in str(info.value)
    # The same key in another scope is another request.
    other = await store.submit(
        receipt(idempotency_key="k", request_fingerprint="b", idempotency_scope="POST /r2")
    )
    assert not other.replayed and other.job.id != first.job.id
    # Without a scope the key is scoped to device + kind.
    a = await store.submit(receipt("p1", idempotency_key="z", request_fingerprint="x"))
    b = await store.submit(receipt("p2", idempotency_key="z", request_fingerprint="x"))
    assert a.job.id != b.job.id
    assert (await store.counts())["queued"] == 4


async def test_concurrent_same_key_creates_one_job(store: JobStore) -> None:
    new = receipt(idempotency_key="same", request_fingerprint="f")
    results = await asyncio.gather(*(store.submit(new) for _ in range(10)))
    assert len({r.job.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len({r.first_response_json for r in results}) == 1


async def test_response_factory_is_stored(store: JobStore) -> None:
    def factory(job: Job) -> dict[str, object]:
        return {"id": job.id, "links": {"self": f"/v1/jobs/{job.id}"}}

    new = receipt(idempotency_key="f", request_fingerprint="1", response_factory=factory)
    first = await store.submit(new)
    assert first.first_response == {
        "id": first.job.id,
        "links": {"self": f"/v1/jobs/{first.job.id}"},
    }
    assert (await store.submit(new)).first_response_json == first.first_response_json


async def test_failing_op_does_not_fail_its_batch(store: JobStore) -> None:
    def broken(job: Job) -> dict[str, object]:
        raise RuntimeError("factory broke")

    before = store.stats.commits
    results = await asyncio.gather(
        *(store.submit(receipt(payload=bytes([i]))) for i in range(20)),
        store.submit(receipt(response_factory=broken)),
        *(store.submit(receipt(payload=bytes([i]))) for i in range(20, 40)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert (await store.counts())["queued"] == 40  # the broken one left nothing behind
    assert store.stats.commits - before < 41


async def test_a_failing_op_alone_in_its_batch_leaves_nothing_behind(store: JobStore) -> None:
    def broken(job: Job) -> dict[str, object]:
        raise RuntimeError("factory broke")

    with pytest.raises(RuntimeError, match="factory broke"):
        await store.submit(receipt(response_factory=broken))  # the job row was inserted
    assert (await store.counts()).get("queued", 0) == 0
    assert (await store.submit(receipt())).job.state is S.QUEUED  # the writer goes on
    assert (await store.counts())["queued"] == 1


async def test_fifo_per_device_and_held_blocks(store: JobStore) -> None:
    a1 = (await store.submit(receipt("a"))).job
    b1 = (await store.submit(receipt("b"))).job
    a2 = (await store.submit(receipt("a"))).job
    assert (await store.next_for_device("a")) == a1
    assert (await store.next_for_device("b")) == b1
    assert await store.next_for_device("nobody") is None

    held = await store.transition(a1.id, S.HELD, expect={S.QUEUED}, held_reason="paper_out")
    assert held.held_reason == "paper_out"
    nxt = await store.next_for_device("a")
    assert nxt is not None and nxt.id == a1.id and nxt.state is S.HELD  # blocks a2

    # held → held updates the reason only.
    again = await store.transition(a1.id, S.HELD, expect={S.HELD}, held_reason="cover_open")
    assert again.held_reason == "cover_open"

    await store.transition(a1.id, S.SENDING, expect={S.HELD}, attempts_inc=True)
    assert await store.next_for_device("a") == a2  # sending is not "next"
    done = await store.transition(a1.id, S.DONE, expect={S.SENDING})
    assert done.attempts == 1 and done.held_reason is None
    assert await store.next_for_device("a") == a2


def test_state_graph_is_the_documented_one() -> None:
    assert {s: set(d) for s, d in TRANSITIONS.items()} == {
        S.QUEUED: {S.SENDING, S.HELD, S.CANCELLED, S.EXPIRED},
        S.HELD: {S.QUEUED, S.HELD, S.SENDING, S.CANCELLED, S.EXPIRED},
        S.SENDING: {S.DONE, S.HELD, S.FAILED, S.IN_DOUBT, S.QUEUED, S.CANCELLED},
        S.IN_DOUBT: {S.QUEUED, S.CANCELLED},
        S.DONE: set(),
        S.FAILED: set(),
        S.CANCELLED: set(),
        S.EXPIRED: set(),
    }
    assert {S.DONE, S.FAILED, S.CANCELLED, S.EXPIRED} == TERMINAL


@pytest.mark.parametrize("src", list(S))
@pytest.mark.parametrize("dst", list(S))
async def test_transition_graph(tmp_path: Path, src: JobState, dst: JobState) -> None:
    legal = dst in TRANSITIONS[src]
    if src in TERMINAL:
        assert not TRANSITIONS[src]
    async with await JobStore.open(tmp_path / "j.sqlite3") as store:
        job = (await store.submit(receipt())).job
        await _drive_to(store, job.id, src)
        if not legal:
            with pytest.raises(InvalidTransition, match=f"is {src.value}; only"):
                await store.transition(job.id, dst, expect=set(S))
            assert await state_of(store, job.id) is src
            return
        moved = await store.transition(job.id, dst, expect={src})
        assert moved.state is dst
        assert (await store.get(job.id)) == moved
        assert moved.updated_at >= job.updated_at


async def _drive_to(store: JobStore, job_id: str, target: JobState) -> None:
    path = {
        S.QUEUED: [],
        S.SENDING: [S.SENDING],
        S.HELD: [S.HELD],
        S.DONE: [S.SENDING, S.DONE],
        S.FAILED: [S.SENDING, S.FAILED],
        S.CANCELLED: [S.CANCELLED],
        S.EXPIRED: [S.EXPIRED],
        S.IN_DOUBT: [S.SENDING, S.IN_DOUBT],
    }[target]
    for step in path:
        await store.transition(job_id, step, expect=set(S))


async def test_invalid_transition_message(store: JobStore) -> None:
    job = (await store.submit(receipt())).job
    await store.transition(job.id, S.SENDING, expect={S.QUEUED})
    await store.transition(job.id, S.DONE, expect={S.SENDING})
    with pytest.raises(InvalidTransition) as info:
        await store.transition(job.id, S.CANCELLED, expect={S.QUEUED, S.HELD, S.IN_DOUBT})
    err = info.value
    assert err.code == "invalid_transition"
    assert str(err) == (
        f"job {job.id} is done; only queued, held or in_doubt jobs can be cancelled"
    )
    assert err.job.state is S.DONE and err.target is S.CANCELLED
    # Compare-and-set: a sending job is not cancelled when the caller expects queued only.
    other = (await store.submit(receipt())).job
    await store.transition(other.id, S.SENDING, expect={S.QUEUED})
    with pytest.raises(InvalidTransition, match="is sending; only queued jobs"):
        await store.transition(other.id, S.CANCELLED, expect={S.QUEUED})
    assert await state_of(store, other.id) is S.SENDING


async def test_transition_errors(store: JobStore) -> None:
    with pytest.raises(JobNotFound) as info:
        await store.transition("job_nope", S.CANCELLED, expect={S.QUEUED})
    assert info.value.code == "job_not_found"
    with pytest.raises(JobNotFound):
        await store.payload("job_nope")
    assert await store.get("job_nope") is None
    job = (await store.submit(receipt())).job
    with pytest.raises(ValueError, match="can move to done"):
        await store.transition(job.id, S.DONE, expect={S.QUEUED})


async def test_error_fields_describe_new_state(store: JobStore) -> None:
    job = (await store.submit(receipt())).job
    await store.transition(job.id, S.SENDING, expect={S.QUEUED}, attempts_inc=True)
    failed = await store.transition(
        job.id, S.FAILED, expect={S.SENDING}, error_code="cutter_error", error_detail="jammed"
    )
    assert (failed.error_code, failed.error_detail, failed.attempts) == (
        "cutter_error",
        "jammed",
        1,
    )


async def test_recovery_marks_sending_in_doubt(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = await JobStore.open(path)
    sending = (await store.submit(receipt())).job
    queued = (await store.submit(receipt())).job
    await store.transition(sending.id, S.SENDING, expect={S.QUEUED}, attempts_inc=True)
    await store.aclose()  # "dies" without finishing

    store = await JobStore.open(path)
    try:
        assert [j.id for j in store.recovered] == [sending.id]
        doubt = await store.get(sending.id)
        assert doubt is not None and doubt.state is S.IN_DOUBT
        assert doubt.error_detail == IN_DOUBT_DETAIL and doubt.attempts == 1
        assert doubt == store.recovered[0]
        assert await state_of(store, queued.id) is S.QUEUED
        assert await store.next_for_device("receipt-1") == await store.get(queued.id)
        # The client decides: retry puts it back in the queue.
        retried = await store.transition(sending.id, S.QUEUED, expect={S.IN_DOUBT})
        assert retried.error_detail is None
    finally:
        await store.aclose()
    store = await JobStore.open(path)
    assert store.recovered == []
    await store.aclose()


async def test_expire_overdue(store: JobStore) -> None:
    now = datetime.now(UTC)
    late = (await store.submit(receipt(deadline_at=now - timedelta(seconds=1)))).job
    held_late = (await store.submit(receipt(deadline_at=now - timedelta(seconds=5)))).job
    await store.transition(held_late.id, S.HELD, expect={S.QUEUED}, held_reason="paper_out")
    sending_late = (await store.submit(receipt(deadline_at=now - timedelta(seconds=1)))).job
    await store.transition(sending_late.id, S.SENDING, expect={S.QUEUED})
    fine = (await store.submit(receipt(deadline_at=now + timedelta(hours=1)))).job
    none = (await store.submit(receipt())).job

    expired = await store.expire_overdue(now)
    assert [j.id for j in expired] == [late.id, held_late.id]
    assert all(j.state is S.EXPIRED and j.held_reason is None for j in expired)
    assert expired[0].error_code == "deadline_passed"
    for job, state in ((sending_late, S.SENDING), (fine, S.QUEUED), (none, S.QUEUED)):
        assert await state_of(store, job.id) is state
    assert await store.expire_overdue(now) == []
    with pytest.raises(ValueError, match="naive"):
        await store.expire_overdue(datetime.now())


async def test_prune_removes_finished_jobs_payloads_and_keys(tmp_path: Path) -> None:
    clock_now = [datetime(2025, 1, 1, tzinfo=UTC)]
    store = await JobStore.open(tmp_path / "j.sqlite3", clock=lambda: clock_now[0])
    try:
        old_done = (await store.submit(receipt(idempotency_key="k", request_fingerprint="a"))).job
        await store.transition(old_done.id, S.CANCELLED, expect={S.QUEUED})
        old_open = (await store.submit(receipt())).job
        clock_now[0] = datetime(2025, 1, 10, tzinfo=UTC)
        new_done = (await store.submit(receipt())).job
        await store.transition(new_done.id, S.CANCELLED, expect={S.QUEUED})

        assert await store.prune(finished_before=datetime(2025, 1, 5, tzinfo=UTC)) == 1
        assert await store.get(old_done.id) is None
        with pytest.raises(JobNotFound):
            await store.payload(old_done.id)
        assert await store.get(old_open.id) is not None  # not finished: kept however old
        assert await store.get(new_done.id) is not None
        # The key is free again once its job is gone.
        reused = await store.submit(receipt(idempotency_key="k", request_fingerprint="b"))
        assert not reused.replayed
    finally:
        await store.aclose()
    raw = sqlite3.connect(tmp_path / "j.sqlite3")
    assert raw.execute("SELECT COUNT(*) FROM payloads").fetchone()[0] == 3
    assert raw.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0] == 1
    raw.close()


async def test_list_pagination_and_filters(store: JobStore) -> None:
    ids: dict[str, list[str]] = {"a": [], "b": []}
    for i in range(25):
        dev = "a" if i % 2 == 0 else "b"
        kind = JobKind.DRAWER if i % 5 == 0 else JobKind.RECEIPT
        job = (await store.submit(NewJob(device_id=dev, kind=kind, payload=b"x"))).job
        ids[dev].append(job.id)
    await store.transition(ids["a"][0], S.CANCELLED, expect={S.QUEUED})

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await store.list(device_id="a", limit=5, cursor=cursor)
        pages += 1
        seen += [j.id for j in page.jobs]
        assert all(j.device_id == "a" for j in page.jobs)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids["a"]))  # newest first, nothing twice, nothing missed
    assert pages == 3  # 13 jobs: 5 + 5 + 3

    cancelled = await store.list(states={S.CANCELLED})
    assert [j.id for j in cancelled.jobs] == [ids["a"][0]] and cancelled.next_cursor is None
    drawers = await store.list(kind=JobKind.DRAWER)
    assert len(drawers.jobs) == 5 and all(j.kind is JobKind.DRAWER for j in drawers.jobs)
    assert (await store.list(states=[])).jobs == []
    mid = await store.get(ids["b"][5])
    assert mid is not None
    after = await store.list(
        device_id="b", created_after=mid.created_at - timedelta(microseconds=1)
    )
    assert ids["b"][5] in [j.id for j in after.jobs]
    exact = await store.list(limit=25)
    assert len(exact.jobs) == 25 and exact.next_cursor is None

    for bad in (0, 501):
        with pytest.raises(InvalidQuery, match="limit"):
            await store.list(limit=bad)
    with pytest.raises(InvalidQuery) as info:
        await store.list(cursor="not-a-cursor")
    assert info.value.code == "invalid_query"


async def test_counts(store: JobStore) -> None:
    assert await store.counts() == {s.value: 0 for s in S}
    a = (await store.submit(receipt())).job
    await store.submit(receipt())
    await store.transition(a.id, S.HELD, expect={S.QUEUED}, held_reason="offline")
    counts = await store.counts()
    assert counts["queued"] == 1 and counts["held"] == 1 and sum(counts.values()) == 2


async def test_group_commit_under_concurrency(store: JobStore) -> None:
    before = store.stats
    results = await asyncio.gather(
        *(store.submit(receipt(f"dev-{i % 4}", payload=bytes(3000))) for i in range(64))
    )
    after = store.stats
    assert len({r.job.id for r in results}) == 64
    assert (await store.counts())["queued"] == 64
    commits = after.commits - before.commits
    assert after.ops - before.ops == 64
    assert commits < 64, f"{commits} commits for 64 submits: no batching"
    # Insert order is the FIFO order each caller observed.
    seqs = [r.job.seq for r in results]
    assert len(set(seqs)) == 64


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = await JobStore.open(tmp_path / "j.sqlite3")
    pending = [asyncio.ensure_future(store.submit(receipt())) for _ in range(5)]
    await asyncio.sleep(0)
    await store.aclose()
    # Work queued before close was finished, not dropped.
    assert all(not p.cancelled() for p in pending)
    done = await asyncio.gather(*pending)
    assert len(done) == 5
    with pytest.raises(StoreClosed):
        await store.submit(receipt())
    with pytest.raises(StoreClosed):
        await store.get("job_x")
    await store.aclose()  # idempotent
    again = await JobStore.open(tmp_path / "j.sqlite3")
    assert (await again.counts())["queued"] == 5
    await again.aclose()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(UnsupportedSchema, match="99"):
        await JobStore.open(path)


async def test_naive_deadline_and_empty_device_rejected(store: JobStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.submit(receipt(deadline_at=datetime(2030, 1, 1)))
    with pytest.raises(ValueError, match="device_id"):
        await store.submit(receipt(""))
    assert (await store.counts())["queued"] == 0


async def test_unusable_path_fails_open_cleanly(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(JobStoreError, match="job database error"):
        await JobStore.open(tmp_path / "dir.sqlite3")


async def test_a_job_can_be_committed_straight_as_sending(tmp_path: Path) -> None:
    store = await JobStore.open(tmp_path / "jobs.sqlite3")
    result = await store.submit(NewJob("r", JobKind.RECEIPT, b"x", sending=True))
    assert result.job.state is JobState.SENDING and result.job.attempts == 1
    assert await store.next_for_device("r") is None  # the worker already has it
    await store.aclose()
    # Caught before it was confirmed: reported in doubt, never queued again silently.
    reopened = await JobStore.open(tmp_path / "jobs.sqlite3")
    assert [job.id for job in reopened.recovered] == [result.job.id]
    assert (await reopened.get(result.job.id)).state is JobState.IN_DOUBT  # type: ignore[union-attr]
    await reopened.aclose()


async def test_a_writer_that_could_not_open_says_why_to_late_callers(tmp_path: Path) -> None:
    # The writer thread may fail before the first operation is even queued; that caller
    # must still hear the reason, not just "closed".
    from posbridge.jobs._writer import GroupCommitWriter

    def cannot_open() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    writer = GroupCommitWriter(cannot_open)
    writer.start()
    await writer.wait_closed()  # the thread has failed and finished
    with pytest.raises(JobStoreError, match="unable to open database file"):
        await writer.run(lambda conn: None)


async def test_a_batch_is_fsynced_unless_every_operation_waives_it(tmp_path: Path) -> None:
    from posbridge.jobs._schema import connect_writer
    from posbridge.jobs._writer import GroupCommitWriter

    writer = GroupCommitWriter(lambda: connect_writer(tmp_path / "jobs.sqlite3"))
    writer.start()

    def sync_level(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA synchronous").fetchone()[0])

    full, normal = 2, 1
    try:
        assert await writer.run(sync_level) == full
        assert await writer.run(sync_level, durable=False) == normal
        # In one batch with a durable operation, the waiver does not count. The writer is
        # held busy while both are queued, so they ride the same batch.
        release = threading.Event()
        busy = asyncio.ensure_future(writer.run(lambda conn: release.wait(10)))
        await asyncio.sleep(0.05)
        both = asyncio.gather(writer.run(sync_level, durable=False), writer.run(sync_level))
        await asyncio.sleep(0.05)
        release.set()
        assert list(await both) == [full, full]
        await busy
        assert await writer.run(sync_level) == full
    finally:
        writer.close()
        await writer.wait_closed()


async def test_only_sending_to_done_may_skip_the_fsync(store: JobStore) -> None:
    job = (await store.submit(receipt())).job
    with pytest.raises(ValueError, match="only sending -> done"):
        await store.transition(job.id, S.CANCELLED, expect={S.QUEUED}, durable=False)
    await store.transition(job.id, S.SENDING, expect={S.QUEUED})
    with pytest.raises(ValueError, match="only sending -> done"):
        await store.transition(job.id, S.IN_DOUBT, expect={S.SENDING}, durable=False)
    done = await store.transition(job.id, S.DONE, expect={S.SENDING}, durable=False)
    assert done.state is S.DONE and await state_of(store, job.id) is S.DONE


async def test_a_done_without_fsync_survives_a_crash_of_the_process(tmp_path: Path) -> None:
    # Without the fsync the commit is still written to the WAL before the answer, so a
    # process that dies right after (no clean close) keeps it; only a power cut could not.
    import multiprocessing

    path = tmp_path / "jobs.sqlite3"
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_done_then_die, args=(path,))
    child.start()
    child.join(30)
    assert child.exitcode == 9
    store = await JobStore.open(path)
    try:
        jobs = (await store.list()).jobs
        assert [job.state for job in jobs] == [S.DONE]
        assert store.recovered == []
    finally:
        await store.aclose()


def _done_then_die(path: Path) -> None:
    import os

    async def run() -> None:
        store = await JobStore.open(path)
        job = (await store.submit(receipt())).job
        await store.transition(job.id, S.SENDING, expect={S.QUEUED})
        await store.transition(job.id, S.DONE, expect={S.SENDING}, durable=False)
        os._exit(9)  # no close, no checkpoint: as kill -9 would leave it

    asyncio.run(run())


async def test_the_write_ahead_log_starts_at_its_working_size(tmp_path: Path) -> None:
    # Commits overwrite the log instead of growing it from the first job on.
    from posbridge.jobs._schema import WAL_WORKING_BYTES

    path = tmp_path / "jobs.sqlite3"
    wal = tmp_path / "jobs.sqlite3-wal"
    store = await JobStore.open(path)
    try:
        await store.submit(receipt())  # the writer has done its upkeep before this batch
        size = wal.stat().st_size
        assert size >= WAL_WORKING_BYTES
        for _ in range(20):
            await store.submit(receipt())
        assert wal.stat().st_size == size
        raw = sqlite3.connect(path)
        assert raw.execute("SELECT count(*) FROM wal_reserve").fetchone()[0] == 0
        raw.close()
    finally:
        await store.aclose()


async def test_an_operation_without_fsync_runs_at_once_when_nobody_writes(
    tmp_path: Path,
) -> None:
    from posbridge.jobs._schema import connect_here, connect_writer
    from posbridge.jobs._writer import GroupCommitWriter

    path = tmp_path / "jobs.sqlite3"
    writer = GroupCommitWriter(
        lambda: connect_writer(path), connect_here=lambda: connect_here(path)
    )
    writer.start()
    await writer.run(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"))
    here = threading.get_ident()

    def insert(conn: sqlite3.Connection) -> tuple[int, int]:
        conn.execute("INSERT INTO t VALUES (1)")
        return threading.get_ident(), int(conn.execute("PRAGMA synchronous").fetchone()[0])

    try:
        assert writer.run_here(insert) == (here, 1)  # this thread, synchronous=NORMAL
        raw = sqlite3.connect(path)
        assert raw.execute("SELECT x FROM t").fetchall() == [(1,)]  # committed

        # While the writer thread is writing, nothing runs here and nothing is done.
        release = threading.Event()
        busy = asyncio.ensure_future(writer.run(lambda conn: release.wait(10)))
        await asyncio.sleep(0.05)
        assert writer.run_here(lambda conn: conn.execute("INSERT INTO t VALUES (2)")) is None
        release.set()
        await busy

        # A failing operation is rolled back and its error reaches the caller.
        def fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (3)")
            raise ValueError("refused")

        with pytest.raises(ValueError, match="refused") as info:
            writer.run_here(fail)
        assert info.value.__cause__ is None  # passed on as it was raised
        assert raw.execute("SELECT x FROM t").fetchall() == [(1,)]
        raw.close()
    finally:
        writer.close()
        await writer.wait_closed()
