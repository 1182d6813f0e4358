"""The DEP verifier: a clean export passes, and every kind of damage is found and named."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.cashbox import RksvCashbox
from drivers.fiscal.rksv.export import crypto_container, dep7
from drivers.fiscal.rksv.receipt import ReceiptInput, ReceiptKind, SignedReceipt, TaxSet
from drivers.fiscal.rksv.units import SoftwareSignatureUnit
from drivers.fiscal.rksv.verify import Check, VerificationResult, verify_dep7

KEY = bytes(range(32))
CASHBOX = "KASSE-1"
T0 = datetime(2024, 5, 1, 9, 0, 0)


class Export:
    """A small valid history: start, sales on two units, training, storno, an outage."""

    def __init__(self) -> None:
        self.units = [
            SoftwareSignatureUnit.generate(key_id=f"U:ATU12345678-K{n}") for n in range(2)
        ]
        self.box = RksvCashbox(CASHBOX, KEY, provider="AT0")
        self.receipts: list[SignedReceipt] = []

    async def add(
        self,
        rid: str,
        euros: str = "0",
        kind: ReceiptKind = ReceiptKind.STANDARD,
        unit: int = 0,
        available: bool = True,
    ) -> SignedReceipt:
        amounts = {} if kind.zero_only else {TaxSet.NORMAL: Decimal(euros)}
        receipt = ReceiptInput(rid, T0 + timedelta(minutes=len(self.receipts)), amounts, kind)
        signed = await self.box.sign(receipt, self.units[unit], unit_available=available)
        self.receipts.append(signed)
        return signed

    @classmethod
    async def typical(cls) -> Export:
        export = cls()
        await export.add("R1", kind=ReceiptKind.START)
        await export.add("R2", "12.34")
        await export.add("R3", "5.00", unit=1)
        await export.add("R4", "99.00", ReceiptKind.TRAINING)
        await export.add("R5", "-2.34", ReceiptKind.STORNO)
        await export.add("R6", "7.00", available=False)
        await export.add("R7", "1.00", ReceiptKind.TRAINING, available=False)
        await export.add("R8", kind=ReceiptKind.NULL, unit=1)
        await export.add("R9", "3.00")
        return export

    def dep(self) -> dict[str, Any]:
        return dep7(self.receipts, self.units)

    def container(self, aes_key: bytes = KEY) -> dict[str, Any]:
        return crypto_container(aes_key, self.units)


def _verify(dep: dict[str, Any], container: dict[str, Any]) -> VerificationResult:
    return verify_dep7(dep, container, cashbox_id=CASHBOX)


def _jws_list(dep: dict[str, Any]) -> list[str]:
    return [jws for group in dep["Belege-Gruppe"] for jws in group["Belege-kompakt"]]


def _replace_jws(dep: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    changed = copy.deepcopy(dep)
    for group in changed["Belege-Gruppe"]:
        group["Belege-kompakt"] = [new if jws == old else jws for jws in group["Belege-kompakt"]]
    return changed


def _found(result: VerificationResult, receipt_id: str, check: Check) -> bool:
    return check in result.checks_failed(receipt_id)


async def test_a_clean_export_passes_with_the_right_totals() -> None:
    export = await Export.typical()
    result = _verify(export.dep(), export.container())
    assert result.ok, result.problems
    assert result.receipts_checked == 9
    assert result.failed_receipts == 2
    assert result.turnover_cents == 1234 + 500 - 234 + 700 + 300 == export.box.turnover_cents


async def test_flipped_signature_byte_is_found_at_that_receipt() -> None:
    export = await Export.typical()
    target = export.receipts[2].jws
    head, signature = target.rsplit(".", 1)
    raw = bytearray(crypto.b64url_decode(signature))
    raw[10] ^= 0x01
    tampered = f"{head}.{crypto.b64url_encode(bytes(raw))}"
    result = _verify(_replace_jws(export.dep(), target, tampered), export.container())
    assert _found(result, "R3", Check.SIGNATURE)
    assert _found(result, "R4", Check.CHAIN)  # the next receipt hashed the original JWS
    assert not result.ok
    assert any("'R3'" in line and "signature" in line for line in result.problems)


async def test_altered_amount_breaks_signature_and_counter() -> None:
    export = await Export.typical()
    target = export.receipts[1].jws
    header, payload, signature = target.split(".")
    code = crypto.b64url_decode(payload).decode().replace("_12,34_", "_1,34_")
    tampered = ".".join([header, crypto.b64url_encode(code.encode()), signature])
    result = _verify(_replace_jws(export.dep(), target, tampered), export.container())
    assert _found(result, "R2", Check.SIGNATURE)
    assert _found(result, "R2", Check.TURNOVER)


async def test_reordered_receipts_are_found() -> None:
    export = await Export.typical()
    dep = export.dep()
    jws = _jws_list(dep)
    # R2 and R3 sit in different groups; R4 and R5 in one: swap inside a group.
    group = next(g for g in dep["Belege-Gruppe"] if jws[3] in g["Belege-kompakt"])
    i = group["Belege-kompakt"].index(jws[3])
    group["Belege-kompakt"][i], group["Belege-kompakt"][i + 1] = jws[4], jws[3]
    result = _verify(dep, export.container())
    assert _found(result, "R5", Check.CHAIN)
    assert _found(result, "R4", Check.CHAIN)
    assert _found(result, "R4", Check.DATE_ORDER)


async def test_wrong_aes_key_is_found_at_the_start_receipt_and_counters() -> None:
    export = await Export.typical()
    result = _verify(export.dep(), export.container(aes_key=bytes(32)))
    assert _found(result, "R1", Check.START_RECEIPT)
    assert _found(result, "R2", Check.TURNOVER)
    assert Check.SIGNATURE not in result.checks_failed()


async def test_missing_zero_receipt_after_failure_is_found() -> None:
    export = Export()
    await export.add("R1", kind=ReceiptKind.START)
    await export.add("R2", "4.00", available=False)
    export.box.needs_zero_receipt = False  # a faulty cashbox that forgets the rule
    await export.add("R3", "5.00")
    result = _verify(export.dep(), export.container())
    assert result.checks_failed() == {Check.ZERO_AFTER_FAILURE}
    assert _found(result, "R3", Check.ZERO_AFTER_FAILURE)


async def test_duplicate_ids_wrong_cashbox_and_missing_keys_are_found() -> None:
    export = Export()
    await export.add("R1", kind=ReceiptKind.START)
    await export.add("R2", "1.00")
    await export.add("R2", "1.00", unit=1)
    result = _verify(export.dep(), export.container())
    assert result.checks_failed() == {Check.RECEIPT_ID}

    wrong_box = verify_dep7(export.dep(), export.container(), cashbox_id="KASSE-2")
    assert _found(wrong_box, "R1", Check.CASHBOX_ID)
    assert _found(wrong_box, "R1", Check.START_RECEIPT)  # chain not from KASSE-2

    container = export.container()
    del container["certificateOrPublicKeyMap"]["U:ATU12345678-K1"]
    assert _found(_verify(export.dep(), container), "R2", Check.CERTIFICATE)


async def test_export_not_starting_with_a_start_receipt_is_found() -> None:
    export = await Export.typical()
    dep = export.dep()
    dep["Belege-Gruppe"][0]["Belege-kompakt"].pop(0)
    result = _verify(dep, export.container())
    assert _found(result, "R2", Check.START_RECEIPT)


async def test_foreign_signature_in_place_of_the_failure_marker_is_found() -> None:
    export = await Export.typical()
    target = export.receipts[5].jws  # R6, signed with the failure marker
    head = target.rsplit(".", 1)[0]
    forged = f"{head}.{crypto.b64url_encode(b'x' * 64)}"
    result = _verify(_replace_jws(export.dep(), target, forged), export.container())
    assert _found(result, "R6", Check.SIGNATURE)


async def test_group_certificate_must_match_the_receipts() -> None:
    units = [SoftwareSignatureUnit.generate() for _ in range(2)]
    box = RksvCashbox(CASHBOX, KEY, provider="AT1")
    receipts = [
        await box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), units[0]),
        await box.sign(ReceiptInput("2", T0, {TaxSet.NULL: Decimal("1.00")}), units[1]),
    ]
    dep, container = dep7(receipts, units), crypto_container(KEY, units)
    assert _verify(dep, container).ok
    groups = dep["Belege-Gruppe"]
    groups[0]["Signaturzertifikat"], groups[1]["Signaturzertifikat"] = (
        groups[1]["Signaturzertifikat"],
        groups[0]["Signaturzertifikat"],
    )
    result = _verify(dep, container)
    assert _found(result, "1", Check.CERTIFICATE) and _found(result, "2", Check.CERTIFICATE)


def test_malformed_exports_are_reported_not_raised() -> None:
    result = _verify({"Belege-Gruppe": [{"Belege-kompakt": ["not.a.jws", 5]}]}, {})
    assert not result.ok
    assert Check.FORMAT in result.checks_failed()
    assert Check.EXPORT in result.checks_failed()
    assert not _verify({}, {"base64AESKey": "AAAA"}).ok
