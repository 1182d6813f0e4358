"""The cashbox state machine: counters, markers, chaining, outages and their recovery."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.cashbox import ReceiptSequenceError, RksvCashbox, ZeroReceiptRequired
from drivers.fiscal.rksv.receipt import (
    InvalidReceipt,
    MachineCode,
    ReceiptInput,
    ReceiptKind,
    TaxSet,
    parse_jws,
)
from drivers.fiscal.rksv.units import SignatureUnitUnavailable, SoftwareSignatureUnit

KEY = bytes(range(32))
T0 = datetime(2024, 5, 1, 9, 0, 0)


def _box() -> RksvCashbox:
    return RksvCashbox("KASSE-1", KEY, provider="AT0")


def _unit() -> SoftwareSignatureUnit:
    return SoftwareSignatureUnit.generate(key_id="U:ATU12345678-K0")


def _at(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def _sale(rid: str, n: int, euros: str, kind: ReceiptKind = ReceiptKind.STANDARD) -> ReceiptInput:
    return ReceiptInput(rid, _at(n), {TaxSet.NORMAL: Decimal(euros)}, kind)


async def _started(box: RksvCashbox, unit: SoftwareSignatureUnit) -> None:
    await box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), unit)


def _decrypt(box: RksvCashbox, jws: str) -> int:
    code = parse_jws(jws).code
    return crypto.decrypt_turnover(code.turnover, KEY, box.cashbox_id, code.receipt_id)


async def test_start_receipt_is_zero_chained_to_cashbox_id_and_signed() -> None:
    box, unit = _box(), _unit()
    start = await box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), unit)
    code = MachineCode.parse(start.code)
    assert code.chain == crypto.chain_value(None, "KASSE-1")
    assert code.cents == (0, 0, 0, 0, 0)
    assert code.certificate_serial == "U:ATU12345678-K0"
    assert _decrypt(box, start.jws) == 0
    assert not start.failed
    assert box.receipt_number == 1 and box.last_jws == start.jws and box.unit_id == unit.unit_id
    assert start.jws.startswith(crypto.JWS_HEADER_ES256 + ".")


async def test_turnover_counts_standard_and_storno_but_not_training() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    sale = await box.sign(_sale("2", 1, "12.34"), unit)
    assert sale.turnover_cents == 1234 and _decrypt(box, sale.jws) == 1234
    training = await box.sign(_sale("3", 2, "100.00", ReceiptKind.TRAINING), unit)
    assert MachineCode.parse(training.code).turnover == crypto.TRAINING_MARKER
    assert box.turnover_cents == 1234
    storno = await box.sign(_sale("4", 3, "-2.34", ReceiptKind.STORNO), unit)
    assert MachineCode.parse(storno.code).turnover == crypto.STORNO_MARKER
    assert box.turnover_cents == 1000
    null = await box.sign(ReceiptInput("5", _at(4), kind=ReceiptKind.NULL), unit)
    assert _decrypt(box, null.jws) == 1000


async def test_each_receipt_chains_to_the_previous_jws() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    previous = box.last_jws
    sale = await box.sign(_sale("2", 1, "1.00"), unit)
    assert MachineCode.parse(sale.code).chain == crypto.chain_value(previous, "KASSE-1")


async def test_qr_text_is_code_plus_standard_base64_signature() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    sale = await box.sign(_sale("2", 1, "1.00"), unit)
    code, signature = sale.qr_text.rsplit("_", 1)
    assert code == sale.code
    assert base64.b64decode(signature) == sale.signature
    assert len(sale.signature) == 64


async def test_outage_marks_receipts_and_demands_a_null_receipt_after_recovery() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    unit.damaged = True
    failed = await box.sign(_sale("2", 1, "5.00"), unit)
    assert failed.failed and failed.signature == crypto.FAILED_SIGNATURE
    assert box.needs_zero_receipt
    assert box.turnover_cents == 500  # the sale still counts
    failed_again = await box.sign(_sale("3", 2, "1.00"), unit, unit_available=True)
    assert failed_again.failed

    unit.damaged = False
    state_before = box.to_dict()
    with pytest.raises(ZeroReceiptRequired):
        await box.sign(_sale("4", 3, "1.00"), unit)
    assert box.to_dict() == state_before  # nothing moved

    null = await box.sign(ReceiptInput("4", _at(3), kind=ReceiptKind.NULL), unit)
    assert not null.failed and not box.needs_zero_receipt
    assert MachineCode.parse(null.code).chain == crypto.chain_value(failed_again.jws, "KASSE-1")
    assert _decrypt(box, null.jws) == 600
    sale = await box.sign(_sale("5", 4, "1.00"), unit)
    assert not sale.failed


async def test_unit_available_false_fails_without_asking_the_unit() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    failed = await box.sign(_sale("2", 1, "1.00"), unit, unit_available=False)
    assert failed.failed and box.needs_zero_receipt


async def test_training_or_storno_is_no_recovery_receipt() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    await box.sign(_sale("2", 1, "1.00"), unit, unit_available=False)
    with pytest.raises(ZeroReceiptRequired):
        await box.sign(_sale("3", 2, "0.00", ReceiptKind.TRAINING), unit)


async def test_sequence_rules() -> None:
    box, unit = _box(), _unit()
    with pytest.raises(ReceiptSequenceError, match="start receipt"):
        await box.sign(_sale("1", 0, "1.00"), unit)
    unit.damaged = True
    with pytest.raises(SignatureUnitUnavailable):
        await box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), unit)
    assert not box.started
    unit.damaged = False
    await _started(box, unit)
    with pytest.raises(ReceiptSequenceError, match="already"):
        await box.sign(ReceiptInput("9", _at(1), kind=ReceiptKind.START), unit)
    with pytest.raises(ReceiptSequenceError, match="before the previous"):
        await box.sign(_sale("2", -1, "1.00"), unit)


async def test_provider_and_identifier_must_agree() -> None:
    open_unit = SoftwareSignatureUnit.generate()
    with pytest.raises(InvalidReceipt, match="AT0"):
        await _box().sign(ReceiptInput("1", T0, kind=ReceiptKind.START), open_unit)
    open_box = RksvCashbox("KASSE-1", KEY, provider="AT1")
    with pytest.raises(InvalidReceipt, match="hex serial"):
        await open_box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), _unit())
    start = await open_box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), open_unit)
    assert MachineCode.parse(start.code).certificate_serial == open_unit.certificate_serial()
    assert start.code.startswith("_R1-AT1_")


async def test_state_survives_to_dict_and_from_dict() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    await box.sign(_sale("2", 1, "3.00"), unit, unit_available=False)
    restored = RksvCashbox.from_dict(box.to_dict())
    assert restored.to_dict() == box.to_dict()
    with pytest.raises(ZeroReceiptRequired):
        await restored.sign(_sale("3", 2, "1.00"), unit)
    null = await restored.sign(ReceiptInput("3", _at(2), kind=ReceiptKind.NULL), unit)
    assert _decrypt(restored, null.jws) == 300


async def test_concurrent_signing_keeps_one_chain() -> None:
    box, unit = _box(), _unit()
    await _started(box, unit)
    receipts = await asyncio.gather(
        *(box.sign(_sale(str(n), 1, "1.00"), unit) for n in range(2, 22))
    )
    chains = {MachineCode.parse(r.code).chain for r in receipts}
    assert len(chains) == 20  # every receipt chained to a different predecessor
    assert box.turnover_cents == 2000 and box.receipt_number == 21


def test_cashbox_refuses_bad_configuration() -> None:
    with pytest.raises(InvalidReceipt):
        RksvCashbox("KASSE_1", KEY)
    with pytest.raises(ValueError, match="32 bytes"):
        RksvCashbox("KASSE-1", KEY[:16])
