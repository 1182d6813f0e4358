"""The fiscal journal against real SQLite files: chaining, tamper evidence, durability."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from posbridge.fiscal.journal import (
    GENESIS_HASH,
    JOURNAL_FILENAME,
    Entry,
    EntryKind,
    Journal,
    JournalClosed,
    Problem,
    canonical_bytes,
    entry_hash,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    j = await Journal.open(tmp_path)
    yield j
    await j.aclose()


def raw(tmp_path: Path) -> sqlite3.Connection:
    """What an attacker with the file has: a plain connection."""
    return sqlite3.connect(tmp_path / JOURNAL_FILENAME, isolation_level=None)


async def fill(journal: Journal, cashbox: str, n: int) -> list[Entry]:
    return [
        await journal.append(cashbox, EntryKind.TRANSACTION, {"i": i, "total": Decimal("1.50")},
                             receipt_reference=f"{cashbox}-r{i}")
        for i in range(1, n + 1)
    ]


async def test_entries_are_numbered_and_chained(journal: Journal) -> None:
    first = await journal.append("box-a", EntryKind.ACTIVATION, {"unit": "software"})
    second = await journal.append("box-a", "transaction", {"total": Decimal("12.50")}, "R-1")
    other = await journal.append("box-b", EntryKind.ACTIVATION, {})
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.prev_hash == GENESIS_HASH and other.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash != second.hash
    assert second.payload == {"total": "12.50"}  # Decimal kept exact, as a string
    assert second.kind is EntryKind.TRANSACTION and second.receipt_reference == "R-1"
    assert second.created_at.tzinfo is not None
    assert await journal.head("box-a") == (2, second.hash)
    assert await journal.head("nobody") == (0, GENESIS_HASH)
    assert [e.number for e in await journal.entries("box-a")] == [1, 2]
    assert [e.number for e in await journal.entries("box-a", after=1)] == [2]


async def test_hash_is_sha256_of_prev_hash_and_canonical_fields(tmp_path: Path) -> None:
    moment = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    async with await Journal.open(tmp_path, clock=lambda: moment) as journal:
        entry = await journal.append("box-a", "transaction", {"b": 1, "a": "ü"}, "R-9")
    created_us = int(moment.timestamp()) * 1_000_000 + 123456
    canonical = json.dumps(
        [1, "box-a", 1, "transaction", "R-9", created_us, '{"a":"ü","b":1}'],
        ensure_ascii=False, separators=(",", ":"),
    ).encode()
    assert entry.hash == hashlib.sha256(bytes.fromhex(GENESIS_HASH) + canonical).hexdigest()
    assert entry.created_at == moment


async def test_a_receipt_reference_is_journaled_once(journal: Journal) -> None:
    entry = await journal.append("box-a", "transaction", {"v": 1}, "R-1")
    again = await journal.append("box-a", "transaction", {"v": 2}, "R-1")
    assert again == entry
    assert await journal.find("box-a", "R-1") == entry
    assert await journal.find("box-b", "R-1") is None
    # Unique per cashbox only: another cashbox may use the same reference.
    assert (await journal.append("box-b", "transaction", {}, "R-1")).number == 1
    assert (await journal.head("box-a"))[0] == 1


async def test_bad_input_is_refused_before_anything_is_written(journal: Journal) -> None:
    with pytest.raises(ValueError, match="cashbox_id"):
        await journal.append("", "transaction", {})
    with pytest.raises(ValueError, match="receipt_reference"):
        await journal.append("box-a", "transaction", {}, "")
    with pytest.raises(ValueError, match="sale"):
        await journal.append("box-a", "sale", {})
    with pytest.raises(ValueError):
        await journal.append("box-a", "transaction", {"x": float("nan")})
    with pytest.raises(TypeError):
        await journal.append("box-a", "transaction", {"x": object()})
    assert await journal.head("box-a") == (0, GENESIS_HASH)


async def test_update_and_delete_are_refused_by_triggers(journal: Journal, tmp_path: Path) -> None:
    await fill(journal, "box-a", 2)
    conn = raw(tmp_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE refused"):
            conn.execute("UPDATE entries SET payload = '{}' WHERE number = 1")
        with pytest.raises(sqlite3.IntegrityError, match="append-only: DELETE refused"):
            conn.execute("DELETE FROM entries")
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 2
    finally:
        conn.close()


async def test_entries_survive_reopen(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path) as journal:
        written = await fill(journal, "box-a", 5)
    async with await Journal.open(tmp_path) as journal:
        assert await journal.entries("box-a") == written
        assert [r.ok for r in journal.verification] == [True]
        assert journal.verification[0].entries == 5
        assert journal.verification[0].head_hash == written[-1].hash
        assert journal.restored_triggers == ()
        nxt = await journal.append("box-a", "state", {"state": "online"})
        assert (nxt.number, nxt.prev_hash) == (6, written[-1].hash)


async def _tampered(tmp_path: Path, *statements: str) -> Journal:
    async with await Journal.open(tmp_path) as journal:
        await fill(journal, "box-a", 6)
        await fill(journal, "box-b", 3)
        assert all(r.ok for r in await journal.verify())
    conn = raw(tmp_path)
    try:
        conn.execute("DROP TRIGGER entries_no_update")
        conn.execute("DROP TRIGGER entries_no_delete")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()
    return await Journal.open(tmp_path)


async def test_an_altered_payload_is_detected_at_restart(tmp_path: Path) -> None:
    journal = await _tampered(
        tmp_path,
        "UPDATE entries SET payload = replace(payload, '1.50', '0.50')"
        " WHERE cashbox_id = 'box-a' AND number = 3",
    )
    try:
        reports = {r.cashbox_id: r for r in journal.verification}
        assert reports["box-b"].ok
        fault = reports["box-a"].fault
        assert fault is not None and fault.number == 3
        assert fault.problem is Problem.HASH_MISMATCH and "entry 3" in fault.detail
        assert reports["box-a"].entries == 6
        assert set(journal.restored_triggers) == {"entries_no_update", "entries_no_delete"}
        assert await journal.verify() == journal.verification
    finally:
        await journal.aclose()
    # The triggers are back: the next attacker has to drop them again.
    conn = raw(tmp_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("DELETE FROM entries")
    finally:
        conn.close()


async def test_a_forged_hash_is_detected(tmp_path: Path) -> None:
    journal = await _tampered(
        tmp_path,
        "UPDATE entries SET hash = '" + "ab" * 32 + "' WHERE cashbox_id = 'box-a' AND number = 4",
    )
    try:
        reports = {r.cashbox_id: r for r in journal.verification}
        fault = reports["box-a"].fault
        assert fault is not None
        assert (fault.number, fault.problem) == (4, Problem.HASH_MISMATCH)
    finally:
        await journal.aclose()


async def test_a_consistent_rewrite_of_one_entry_is_caught_at_the_next(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path) as journal:
        entries = await fill(journal, "box-a", 5)

    e = entries[1]  # number 2: forge payload and a hash that matches it
    forged_payload = '{"i":2,"total":"0.01"}'
    conn = raw(tmp_path)
    row = conn.execute("SELECT created_at FROM entries WHERE seq = ?", (e.seq,)).fetchone()
    created_us = int(row[0])
    forged_hash = entry_hash(
        e.prev_hash,
        canonical_bytes("box-a", 2, "transaction", e.receipt_reference, created_us, forged_payload),
    )
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET payload = ?, hash = ? WHERE seq = ?",
                 (forged_payload, forged_hash, e.seq))
    conn.close()
    async with await Journal.open(tmp_path) as journal:
        fault = journal.verification[0].fault
        assert fault is not None
        assert (fault.number, fault.problem) == (3, Problem.PREV_HASH_MISMATCH)
        assert "entry 2" in fault.detail


async def test_a_deleted_entry_is_a_gap(tmp_path: Path) -> None:
    journal = await _tampered(
        tmp_path, "DELETE FROM entries WHERE cashbox_id = 'box-b' AND number = 2"
    )
    try:
        reports = {r.cashbox_id: r for r in journal.verification}
        assert reports["box-a"].ok
        fault = reports["box-b"].fault
        assert fault is not None
        assert (fault.number, fault.problem) == (3, Problem.GAP)
        assert "entry 2 is missing" in fault.detail
    finally:
        await journal.aclose()


async def test_concurrent_appends_never_fork_the_chain(journal: Journal) -> None:
    async def client(lane: int) -> list[Entry]:
        return [
            await journal.append("box-a", "transaction", {"lane": lane, "n": n}, f"{lane}-{n}")
            for n in range(40)
        ]

    results = await asyncio.gather(*(client(lane) for lane in range(8)))
    numbers = sorted(e.number for entries in results for e in entries)
    assert numbers == list(range(1, 321))
    chain = await journal.entries("box-a", limit=1000)
    assert [e.number for e in chain] == list(range(1, 321))
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.prev_hash == before.hash
    assert [r.ok for r in await journal.verify()] == [True]


async def test_cashbox_lock_is_one_lock_per_cashbox(journal: Journal) -> None:
    assert journal.cashbox_lock("box-a") is journal.cashbox_lock("box-a")
    assert journal.cashbox_lock("box-a") is not journal.cashbox_lock("box-b")


async def test_appends_keep_up_with_eight_clients(journal: Journal) -> None:
    per_client = 60

    async def client(lane: int) -> None:
        for n in range(per_client):
            await journal.append(f"box-{lane % 2}", "transaction", {"n": n}, f"{lane}-{n}")

    start = time.perf_counter()
    await asyncio.gather(*(client(lane) for lane in range(8)))
    rate = 8 * per_client / (time.perf_counter() - start)
    assert rate >= 300, f"{rate:.0f} appends/s"


async def test_a_closed_journal_refuses_work(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path)
    await journal.aclose()
    with pytest.raises(JournalClosed):
        await journal.append("box-a", "transaction", {})
    with pytest.raises(JournalClosed):
        await journal.verify()


_CHILD = """
import asyncio, sys
from pathlib import Path
from posbridge.fiscal.journal import Journal

async def lane(journal, k):
    n = 0
    while True:
        e = await journal.append("box-1", "transaction", {"k": k, "n": n}, f"{k}-{n}")
        sys.stdout.write(f"{e.number} {k}-{n} {e.hash}\\n")
        sys.stdout.flush()
        n += 1

async def main():
    journal = await Journal.open(Path(sys.argv[1]))
    sys.stdout.write("READY\\n"); sys.stdout.flush()
    await asyncio.gather(*(lane(journal, k) for k in range(8)))

asyncio.run(main())
"""


async def test_every_reported_entry_survives_sigkill(tmp_path: Path) -> None:
    reported: dict[int, tuple[str, str]] = {}
    for wanted in (50, 400):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD, str(tmp_path), stdout=asyncio.subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        lines: list[bytes] = []
        try:
            async with asyncio.timeout(30):
                assert await proc.stdout.readline() == b"READY\n"
                while len(lines) < wanted:
                    chunk = await proc.stdout.readline()
                    assert chunk, "child exited early"
                    lines.append(chunk)
        finally:
            proc.send_signal(signal.SIGKILL)
        lines.append(await proc.stdout.read())
        await proc.wait()
        for text in b"".join(lines).decode().splitlines(keepends=True):
            if text.endswith("\n"):  # a line cut by the kill was never reported
                num, ref, digest = text.split()
                reported[int(num)] = (ref, digest)
        async with await Journal.open(tmp_path) as journal:
            assert [r.ok for r in journal.verification] == [True]
            for number, (ref, digest) in reported.items():
                entry = await journal.find("box-1", ref)
                assert entry is not None, f"entry {number} ({ref}) was reported but is gone"
                assert (entry.number, entry.hash) == (number, digest)
