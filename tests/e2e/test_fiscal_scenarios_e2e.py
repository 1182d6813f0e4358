"""The eight official RKSV test scenarios, replayed through the HTTP API of a running
daemon (one daemon and state dir per scenario: all eight use the cashbox id
CASHBOX-DEMO-1), then exported as DEP 7 and checked with ``verify_dep7``.

At library level the same scenarios are replayed in
``tests/drivers/fiscal/rksv/test_official_scenarios.py``; here every receipt goes through
the daemon: the store, the cashbox, unit switches, emulated unit failures, the journal
and the exports.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from drivers.fiscal.rksv import parse_jws
from tests.e2e.fiscal import (
    CASHBOX_ID,
    MARKER_UNIT_FAILED,
    SCENARIOS,
    cashbox,
    load_scenario,
    qr_item,
    qr_text,
    replay_scenario,
    verified,
)
from tests.e2e.harness import Daemon, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SCENARIOS, reason="official RKSV scenarios not found"),
]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_over_http_exports_a_verified_dep7(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    instructions = scenario["cashBoxInstructionList"]
    with running(Daemon(tmp_path / "state", "")) as daemon, daemon.client() as client:
        replay = replay_scenario(client, scenario)
        result, receipts = verified(client, rksv_cashbox_id=scenario["cashBoxId"])
        box = cashbox(client)

    assert result.ok, result.problems[:10]
    assert result.receipts_checked == len(receipts) == len(instructions)
    assert result.failed_receipts == sum(replay.damaged)
    assert box["state"] == "online", box

    for instruction, answer, damaged, jws in zip(
        instructions, replay.answers, replay.damaged, receipts, strict=True
    ):
        reference = instruction["receiptIdentifier"]
        assert answer["receipt_reference"] == reference, answer
        # The export holds the receipts in the order they were answered: each answer's
        # QR code is the receipt at the same place in the DEP.
        assert qr_item(answer) == qr_text(jws), reference
        parsed = parse_jws(jws)
        assert parsed.failed is damaged, reference
        assert parsed.code.cashbox_id == scenario["cashBoxId"]
        # The receipt's time is the moment in the store's time zone (the scenario's).
        assert parsed.code.when == datetime.fromisoformat(instruction["dateToUse"]), reference
        if damaged:
            assert answer["state"] != "FAILED", answer
            assert MARKER_UNIT_FAILED in answer["markers"], answer
        else:
            assert answer["state"] == "OK", answer
            assert MARKER_UNIT_FAILED not in answer["markers"], answer
    numbers = [answer["number"] for answer in replay.answers]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    assert box["last_number"] == numbers[-1], box
    assert box["id"] == CASHBOX_ID
