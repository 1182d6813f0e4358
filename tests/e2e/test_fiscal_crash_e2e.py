"""kill -9 the daemon while four clients post signed sales, again and again; then
tamper with the journal file while the daemon is stopped.

After the last restart every answered sale is in the DEP 7 export exactly once, the
transaction numbers run without gap or double, and the export verifies. A sale whose
answer was lost with the daemon is sent again: it is answered then (the first answer if
it was journaled, a new one if not), never signed twice.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.fiscal import (
    CASHBOX_ID,
    cashbox,
    now_vienna,
    qr_item,
    qr_text,
    ready_cashbox,
    sale_body,
    verified,
)
from tests.e2e.harness import Daemon, running

pytestmark = pytest.mark.slow

ROUNDS = 10
THREADS = 4
TRANSACTIONS = f"/v1/fiscal/cashboxes/{CASHBOX_ID}/transactions"


class Ledger:
    """What the clients sent and what the daemon answered, shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered: dict[str, dict[str, Any]] = {}
        self.unanswered: set[str] = set()
        self.bodies: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        """Failures seen in a client thread (an assert there would not fail the test)."""

    def sent(self, reference: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.bodies[reference] = body
            self.unanswered.add(reference)

    def answer(self, reference: str, status: int, answer: dict[str, Any]) -> None:
        with self.lock:
            first = self.answered.setdefault(reference, answer)
            if status == 200:  # a replay: the first answer, unchanged
                assert answer == first, (reference, first, answer)
            self.unanswered.discard(reference)


def _post_sales(daemon: Daemon, ledger: Ledger, name: str, stop: threading.Event) -> None:
    try:
        _post_until_killed(daemon, ledger, name, stop)
    except Exception as exc:  # noqa: BLE001 - handed to the test thread via the ledger
        ledger.errors.append(f"{name}: {exc!r}")


def _post_until_killed(daemon: Daemon, ledger: Ledger, name: str, stop: threading.Event) -> None:
    with daemon.client() as client:
        n = 0
        while not stop.is_set():
            reference = f"{name}-{n:04d}"
            n += 1
            body = sale_body(reference, f"{n}.99")
            ledger.sent(reference, body)
            try:
                response = client.post(TRANSACTIONS, json=body)
            except httpx.HTTPError:
                return  # the daemon died under us
            assert response.status_code in (200, 201), response.text
            ledger.answer(reference, response.status_code, response.json())


def _resend(client: httpx.Client, ledger: Ledger, references: list[str]) -> Counter[int]:
    """Send each sale again as a client retrying would: the same body first; if it was
    never journaled and later receipts were signed since, RKSV refuses its older time
    (dates never go back), so once more with a fresh moment, which must be new.

    Returns how many were replays (200) and how many new (201)."""
    statuses: Counter[int] = Counter()
    for reference in references:
        response = client.post(TRANSACTIONS, json=ledger.bodies[reference])
        if response.status_code == 422 and response.json()["code"] == "receipt_sequence":
            body = {**ledger.bodies[reference], "moment": now_vienna()}
            response = client.post(TRANSACTIONS, json=body)
            assert response.status_code == 201, response.text
        assert response.status_code in (200, 201), response.text
        ledger.answer(reference, response.status_code, response.json())
        statuses[response.status_code] += 1
    return statuses


def test_kill_9_loop_keeps_every_answered_sale_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(7)
    state_dir = tmp_path / "state"
    ledger = Ledger()
    with running(Daemon(state_dir, "")) as daemon, daemon.client() as client:
        start = ready_cashbox(client)["transaction"]

    for round_no in range(ROUNDS):
        daemon = Daemon(state_dir, "")
        daemon.start()
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_post_sales, args=(daemon, ledger, f"R{round_no:02d}T{t}", stop)
            )
            for t in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.2, 0.8))
        daemon.kill()
        stop.set()
        for thread in threads:
            thread.join(30)

    with running(Daemon(state_dir, "")) as daemon, daemon.client() as client:
        assert cashbox(client)["state"] == "online"
        lost = sorted(ledger.unanswered)
        # A replay of an answered sale gives its first answer, across every restart.
        assert _resend(client, ledger, rng.sample(sorted(ledger.answered), 20)) == {200: 20}
        retried = _resend(client, ledger, lost)
        print(f"{len(ledger.answered)} sales, {len(lost)} answers lost in a kill: "
              f"{retried[200]} had been journaled, {retried[201]} had not")
        result, receipts = verified(client)
        box = cashbox(client)

    assert not ledger.errors, ledger.errors[:5]
    assert len(ledger.answered) > ROUNDS * THREADS, "the clients barely got any sale through"
    assert not ledger.unanswered
    assert result.ok, result.problems[:10]
    in_export = Counter(qr_text(jws) for jws in receipts)
    for reference, answer in ledger.answered.items():
        assert in_export[qr_item(answer)] == 1, f"{reference} is {in_export[qr_item(answer)]}x"
    assert len(receipts) == len(ledger.answered) + 1  # and the start receipt

    numbers = sorted([start["number"]] + [a["number"] for a in ledger.answered.values()])
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "gap or double"
    assert box["last_number"] == numbers[-1]


def _tamper(journal: Path, reference: str) -> list[str]:
    """Drop the append-only triggers and alter one entry's payload; the dropped names."""
    conn = sqlite3.connect(journal)
    try:
        triggers = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ]
        for name in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        (payload,) = conn.execute(
            "SELECT payload FROM entries WHERE receipt_reference = ?", (reference,)
        ).fetchone()
        altered = json.loads(payload)
        altered["tampered"] = True  # any change at all must break the chain
        changed = conn.execute(
            "UPDATE entries SET payload = ? WHERE receipt_reference = ?",
            (json.dumps(altered, sort_keys=True, separators=(",", ":")), reference),
        ).rowcount
        assert changed == 1
        conn.commit()
    finally:
        conn.close()
    return triggers


def test_a_tampered_journal_blocks_the_cashbox(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with running(Daemon(state_dir, "")) as daemon, daemon.client() as client:
        ready_cashbox(client)
        for n in range(3):
            response = client.post(TRANSACTIONS, json=sale_body(f"sale-{n}", "12.34"))
            assert response.status_code == 201, response.text
        before = cashbox(client)

    dropped = _tamper(state_dir / "fiscal-journal.sqlite3", "sale-1")
    assert dropped, "the journal should have append-only triggers"

    with running(Daemon(state_dir, "")) as daemon, daemon.client() as client:
        box = cashbox(client)
        print("blocked with warning codes", box["warning_codes"])
        assert box["state"] == "blocked", box
        assert any("journal" in code for code in box["warning_codes"]), box
        response = client.post(TRANSACTIONS, json=sale_body("sale-after-tamper", "1.00"))
        after = cashbox(client)
    print("refused with", response.status_code, response.text)
    assert 400 <= response.status_code < 600, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "journal" in response.json()["code"], response.text
    assert after["last_number"] == before["last_number"]
