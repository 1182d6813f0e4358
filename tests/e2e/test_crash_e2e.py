"""kill -9 the daemon while jobs are queued and sending, again and again.

The emulator runs in the test process (over TCP), so it keeps what it printed across
every daemon death; each receipt carries a unique marker to count its printouts.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Daemon, ThreadedEmulator
from tests.e2e.receipts import small_receipt

pytestmark = pytest.mark.slow

ROUNDS = 20
SURVIVING_STATES = {"queued", "held", "sending", "done", "in_doubt"}


def _config(url: str) -> str:
    return (
        "[[devices]]\n"
        'id = "receipt-1"\nkind = "receipt_printer"\n'
        f'url = "{url}"\nprofile = "TM-T88V"\nstatus_interval_s = 0.2\n'
    )


def test_kill_9_loop_loses_nothing_and_never_double_prints(tmp_path: Path) -> None:
    rng = random.Random(9)
    accepted: list[tuple[str, str]] = []  # (job id, marker)
    state_dir = tmp_path / "state"
    with ThreadedEmulator() as emulator:
        # Slow the link (8000 bytes/s) so kills land while bytes are on the wire.
        emulator.call(lambda: emulator.emulator.apply_faults({"link_bps": "8000"}))
        config = _config(emulator.url)
        for round_no in range(ROUNDS):
            daemon = Daemon(state_dir, config)
            daemon.port = daemon.port  # fresh port each round
            daemon.start()
            with daemon.client() as client:
                for job_id, _ in accepted:
                    response = client.get(f"/v1/jobs/{job_id}")
                    assert response.status_code == 200, f"round {round_no}: {job_id} lost"
                    assert response.json()["state"] in SURVIVING_STATES
                for n in range(rng.randint(3, 12)):
                    marker = f"R{round_no:02d}J{n:02d}X"
                    try:
                        response = client.post(
                            "/v1/printers/receipt-1/receipts", json=small_receipt(marker)
                        )
                    except httpx.HTTPError:
                        break
                    assert response.status_code == 202
                    accepted.append((response.json()["id"], marker))
            time.sleep(rng.uniform(0.0, 0.3))
            daemon.kill()

        # Let a last daemon finish everything that is still queued.
        daemon = Daemon(state_dir, config)
        daemon.start()
        try:
            with daemon.client() as client:
                states: dict[str, str] = {}
                for job_id, _ in accepted:
                    job = client.get(f"/v1/jobs/{job_id}?wait=30").json()
                    states[job_id] = job["state"]
        finally:
            daemon.stop()
    printed = emulator.emulator.output_text()
    print("job states:", {s: list(states.values()).count(s) for s in set(states.values())})
    assert set(states.values()) <= {"done", "in_doubt"}, states
    for job_id, marker in accepted:
        count = printed.count(marker)
        if states[job_id] == "done":
            assert count == 1, f"{job_id} ({marker}) done but printed {count} times"
        else:
            assert count <= 1, f"{job_id} ({marker}) in_doubt and printed {count} times"
    assert sum(1 for s in states.values() if s == "done") > len(accepted) // 2
