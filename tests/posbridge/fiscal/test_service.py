"""The fiscal service against a real journal: late signing, the automatic zero receipt
after an outage, restarts, and a tampered journal."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from drivers.fiscal.rksv import verify_dep7
from posbridge.fiscal.service import FiscalError, FiscalService

KEY = base64.b64encode(os.urandom(32)).decode()


def _sale(
    ref: str, minute: int, amount: str = "10.00", day: str = "2026-11-27"
) -> dict[str, Any]:
    return {
        "receipt_reference": ref,
        "type": "sale",
        "moment": f"{day}T10:{minute:02d}:00+01:00",
        "amounts": {"20": amount},
    }


async def _service(
    state: Path, *, strategy: str = "standard-signing", closures: list[str] | None = None
) -> FiscalService:
    service = await FiscalService.open(state)
    await service.patch_store(
        "wien-1",
        {"country": "AT", "timezone": "Europe/Vienna", "automatic_closure_reports": closures},
    )
    await service.create_cashbox(
        "wien-1",
        {
            "id": "k1",
            "fiscal_provider_id": "rksv-at",
            "provider_config": {
                "cashbox_id": "K1",
                "provider": "AT0",
                "aes_key": KEY,
                "signature_unit": {"type": "software", "emulated": True},
            },
        },
    )
    await service.patch_offline_mode(
        {"offline_countries": {"AT": {"enabled": True, "strategy": strategy}}}
    )
    await service.activate(
        "k1", {"receipt_reference": "start", "moment": "2026-11-27T09:00:00+01:00"}
    )
    return service


async def _verified(service: FiscalService) -> list[str]:
    dep = await service.export_dep7("k1")
    result = verify_dep7(dep, service.export_crypto_container("k1"), cashbox_id="K1")
    assert result.ok, result.problems
    ids = []
    for group in dep["Belege-Gruppe"]:
        for jws in group["Belege-kompakt"]:
            payload = base64.urlsafe_b64decode(jws.split(".")[1] + "==").decode()
            ids.append(payload.split("_")[3])
    return ids


async def test_late_signing_signs_the_backlog_in_order_when_the_unit_is_back(
    tmp_path: Path,
) -> None:
    service = await _service(tmp_path, strategy="late-signing")
    try:
        service.unit_fault("k1", "u0", "damaged")
        first, _ = await service.transact("k1", _sale("s1", 1))
        second, _ = await service.transact("k1", _sale("s2", 2))
        assert first["state"] == second["state"] == "TEMP_SIGNED"
        assert service.cashbox_public(service.cashbox("k1"))["state"] == "offline"
        # Replays give the first answer, even after a restart.
        await service.aclose()
        service = await FiscalService.open(tmp_path)
        assert (await service.transact("k1", _sale("s1", 1)))[0]["state"] == "TEMP_SIGNED"
        assert [ref for ref, _ in service.cashbox("k1").pending] == ["s1", "s2"]
        service.unit_fault("k1", "u0", "ok")
        third, new = await service.transact("k1", _sale("s3", 3))
        assert new and third["state"] == "OK"
        assert service.cashbox_public(service.cashbox("k1"))["state"] == "online"
        assert await _verified(service) == ["start", "s1", "s2", "s3"]
    finally:
        await service.aclose()


async def test_after_an_outage_a_zero_receipt_comes_first(tmp_path: Path) -> None:
    service = await _service(tmp_path)
    try:
        service.unit_fault("k1", "u0", "damaged")
        failed, _ = await service.transact("k1", _sale("s1", 1))
        assert failed["markers"] == ["Sicherheitseinrichtung ausgefallen"]
        service.unit_fault("k1", "u0", "ok")
        await service.transact("k1", _sale("s2", 2))
        assert await _verified(service) == ["start", "s1", "s2-S", "s2"]
    finally:
        await service.aclose()


async def test_a_tampered_journal_blocks_its_cashbox(tmp_path: Path) -> None:
    service = await _service(tmp_path)
    await service.transact("k1", _sale("s1", 1))
    await service.aclose()
    db = sqlite3.connect(tmp_path / "fiscal-journal.sqlite3")
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("UPDATE entries SET payload = replace(payload, '10.00', '1.00')")
    db.commit()
    db.close()
    service = await FiscalService.open(tmp_path)
    try:
        public = service.cashbox_public(service.cashbox("k1"))
        assert public["state"] == "blocked" and "fiscal_journal_broken" in public["warning_codes"]
        with pytest.raises(FiscalError) as refused:
            await service.transact("k1", _sale("s2", 2))
        assert refused.value.code == "fiscal_journal_broken"
    finally:
        await service.aclose()


async def test_month_and_year_end_zero_receipts_come_before_the_next_months_first(
    tmp_path: Path,
) -> None:
    service = await _service(tmp_path, closures=None)  # Austria's default: both
    try:
        await service.transact("k1", _sale("s1", 1))
        await service.transact("k1", _sale("s2", 2, day="2026-12-01"))
        await service.transact("k1", _sale("s3", 3, day="2026-12-31"))
        await service.transact("k1", _sale("s4", 4, day="2027-01-02"))
        assert await _verified(service) == [
            "start", "s1", "Monatsbeleg-2026-11", "s2", "s3", "Jahresbeleg-2026", "s4",
        ]
    finally:
        await service.aclose()


async def test_an_outage_over_48_hours_says_a_report_is_due(tmp_path: Path) -> None:
    service = await _service(tmp_path, closures=[])
    try:
        service.unit_fault("k1", "u0", "damaged")
        await service.transact("k1", _sale("s1", 1, day="2026-11-27"))
        await service.transact("k1", _sale("s2", 2, day="2026-11-28"))
        public = service.cashbox_public(service.cashbox("k1"))
        assert public["state"] == "offline" and public["warning_codes"] == []
        await service.transact("k1", _sale("s3", 3, day="2026-11-30"))
        public = service.cashbox_public(service.cashbox("k1"))
        assert public["warning_codes"] == ["rksv_unit_outage_over_48h"]
    finally:
        await service.aclose()


async def test_a_till_slightly_behind_signs_at_the_previous_receipts_time(tmp_path: Path) -> None:
    service = await _service(tmp_path, closures=[])
    try:
        await service.transact("k1", _sale("s1", 30))
        behind = {**_sale("s2", 29), "moment": "2026-11-27T10:29:30+01:00"}  # 30 s behind
        assert (await service.transact("k1", behind))[0]["state"] == "OK"
        with pytest.raises(FiscalError) as stale:  # 29 minutes behind: a stale retry
            await service.transact("k1", _sale("s3", 1))
        assert stale.value.code == "receipt_sequence"
        assert await _verified(service) == ["start", "s1", "s2"]
    finally:
        await service.aclose()
