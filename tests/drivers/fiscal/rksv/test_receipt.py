"""The receipt model and the machine-readable code."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.receipt import (
    InvalidReceipt,
    MachineCode,
    ReceiptInput,
    ReceiptKind,
    TaxSet,
    format_amount,
    parse_amount,
    parse_jws,
)

WHEN = datetime(2016, 3, 11, 3, 57, 8)


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0,00"), (1234, "12,34"), (-500, "-5,00"), (-5, "-0,05"), (123456789, "1234567,89")],
)
def test_amount_format_round_trips(cents: int, text: str) -> None:
    assert format_amount(cents) == text
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["1.234,50", "12,3", "12.34", "", "-", "01,00", "1,000"])
def test_amount_parser_refuses_other_forms(text: str) -> None:
    with pytest.raises(InvalidReceipt):
        parse_amount(text)


def test_receipt_input_converts_decimal_euros_to_cents_in_code_order() -> None:
    receipt = ReceiptInput(
        "7",
        WHEN,
        {
            TaxSet.SPECIAL: Decimal("193.07"),
            TaxSet.NORMAL: Decimal("120.34"),
            TaxSet.REDUCED_2: Decimal("-1.5"),
        },
    )
    assert receipt.cents == (12034, 0, -150, 0, 19307)
    assert receipt.total_cents == 12034 - 150 + 19307
    assert ReceiptInput.from_cents("7", WHEN, {TaxSet.NULL: 3439}).cents == (0, 0, 0, 3439, 0)


@pytest.mark.parametrize("amount", [120.34, 5, Decimal("1.234"), Decimal("NaN"), True], ids=repr)
def test_receipt_input_refuses_floats_and_sub_cent_amounts(amount: object) -> None:
    with pytest.raises(InvalidReceipt):
        ReceiptInput("1", WHEN, {TaxSet.NORMAL: amount})  # type: ignore[dict-item]


def test_receipt_input_refuses_bad_ids_times_and_amounts_on_zero_receipts() -> None:
    with pytest.raises(InvalidReceipt, match="'_'"):
        ReceiptInput("A_1", WHEN)
    with pytest.raises(InvalidReceipt, match="naive"):
        ReceiptInput("1", datetime(2016, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidReceipt, match="no amounts"):
        ReceiptInput("1", WHEN, {TaxSet.NORMAL: Decimal("1.00")}, ReceiptKind.NULL)
    with pytest.raises(InvalidReceipt, match="tax set"):
        ReceiptInput("1", WHEN, {"taxSetNormal": Decimal(1)})  # type: ignore[dict-item]


def _code() -> MachineCode:
    return MachineCode(
        provider="AT0",
        cashbox_id="KASSE-1",
        receipt_id="83469",
        when=WHEN,
        cents=(1234, -500, 0, 3439, 19307),
        turnover="k8wUAJDJ+Ro=",
        certificate_serial="U:ATU12345678-K0",
        chain="BSamEnrdxPg=",
    )


def test_code_layout_matches_the_specification() -> None:
    assert _code().text == (
        "_R1-AT0_KASSE-1_83469_2016-03-11T03:57:08_12,34_-5,00_0,00_34,39_193,07"
        "_k8wUAJDJ+Ro=_U:ATU12345678-K0_BSamEnrdxPg="
    )
    assert MachineCode.parse(_code().text) == _code()


def test_ocr_form_uses_base32_for_binary_values() -> None:
    fields = _code().ocr_text.split("_")
    assert fields[10] == crypto.b32encode(crypto.b64decode("k8wUAJDJ+Ro="))
    assert fields[12] == crypto.b32encode(crypto.b64decode("BSamEnrdxPg="))
    assert fields[:10] == _code().text.split("_")[:10]


@pytest.mark.parametrize(
    "text",
    [
        "_R1-AT0_K_1_2016-03-11T03:57:08_0,00_0,00_0,00_0,00_0,00_AAAAAAA=_U:X-K0",
        "_R2-AT0_K_1_2016-03-11T03:57:08_0,00_0,00_0,00_0,00_0,00_AAAAAAA=_U:X-K0_AAAAAAAAAAA=",
        "_R1-AT0_K_1_2016-03-11 03:57:08_0,00_0,00_0,00_0,00_0,00_AAAAAAA=_U:X-K0_AAAAAAAAAAA=",
        "_R1-AT0_K_1_2016-03-11T03:57:08_0,00_0,00_0,00_0,00_0,00_%%%_U:X-K0_AAAAAAAAAAA=",
        "_R1-XX1_K_1_2016-03-11T03:57:08_0,00_0,00_0,00_0,00_0,00_AAAAAAA=_U:X-K0_AAAAAAAAAAA=",
    ],
)
def test_code_parser_names_what_is_wrong(text: str) -> None:
    with pytest.raises(InvalidReceipt):
        MachineCode.parse(text)


def test_parse_jws_recognises_the_failure_marker() -> None:
    signing_input = crypto.jws_signing_input(_code().text)
    parsed = parse_jws(crypto.jws_compact(signing_input, crypto.FAILED_SIGNATURE))
    assert parsed.failed
    assert parsed.code == _code()
    assert parsed.signing_input == signing_input
    with pytest.raises(InvalidReceipt, match="header"):
        parse_jws("eyJhbGciOiJub25lIn0." + signing_input.decode().split(".")[1] + ".AA")
