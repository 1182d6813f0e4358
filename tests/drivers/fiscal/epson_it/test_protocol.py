"""XML building and parsing, byte-level: envelopes, escaping, numbers, status digits."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from drivers.errors import EncodingError, ProtocolError
from drivers.fiscal.epson_it.models import (
    DocumentState,
    FiscalDocumentRef,
    JournalState,
    PaperState,
    Payment,
    PaymentKind,
)
from drivers.fiscal.epson_it.protocol import (
    DESCRIPTION_MAX,
    SOAP_NS,
    SaleLine,
    build_response,
    command_of,
    decode_printer_status,
    encode_printer_status,
    format_amount,
    format_quantity,
    parse_decimal,
    parse_request,
    parse_response,
    sale_request,
    status_request,
    void_request,
    z_report_request,
)

REF = FiscalDocumentRef(12, 3, dt.date(2024, 9, 4), "99MEY012345")


def _sale(description: str) -> bytes:
    line = SaleLine(description, Decimal("2"), Decimal("1.5"), 6)
    return sale_request([line], [Payment(Decimal("5"), PaymentKind.CASH)], "1")


def test_sale_request_is_a_soap_envelope_with_the_receipt_in_order() -> None:
    body = _sale("Acqua")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(body)
    assert root.tag == f"{{{SOAP_NS}}}Envelope"
    command = parse_request(body)
    assert command_of(command) == "printerFiscalReceipt"
    assert [command_of(c) for c in command] == [
        "beginFiscalReceipt",
        "printRecItem",
        "printRecTotal",
        "endFiscalReceipt",
    ]
    item = command[1].attrib
    assert item == {
        "operator": "1",
        "description": "Acqua",
        "quantity": "2",
        "unitPrice": "1,50",
        "department": "6",
        "justification": "1",
    }
    total = command[2].attrib
    assert (total["payment"], total["paymentType"], total["index"]) == ("5,00", "0", "0")


@pytest.mark.parametrize("text", ["Tom & Jerry <3>", 'Grüße "aus" Wien', "Caffè & brioche"])
def test_descriptions_are_escaped_and_round_trip(text: str) -> None:
    body = _sale(text)
    assert b"<3>" not in body  # escaped on the wire
    assert parse_request(body)[1].get("description") == text


def test_ampersand_and_umlaut_are_escaped_as_xml_entities_in_utf8() -> None:
    body = _sale("Müsli & <Co>")
    assert "Müsli &amp; &lt;Co&gt;".encode() in body


def test_long_descriptions_are_cut_and_whitespace_flattened() -> None:
    body = _sale("A" * 30 + "\n" + "B" * 30)
    description = parse_request(body)[1].get("description")
    assert description == ("A" * 30 + " " + "B" * 30)[:DESCRIPTION_MAX]


def test_numbers_use_a_decimal_comma() -> None:
    assert format_amount(Decimal("1234.5")) == "1234,50"
    assert format_amount(Decimal("0.005")) == "0,01"
    assert format_quantity(Decimal("1")) == "1"
    assert format_quantity(Decimal("1.250")) == "1,25"
    assert format_quantity(Decimal("0.3333")) == "0,333"
    assert parse_decimal("12,50") == Decimal("12.50")
    assert parse_decimal("12.50") == Decimal("12.50")
    with pytest.raises(ValueError):
        parse_decimal("abc")
    with pytest.raises(ValueError):
        parse_decimal("NaN")


def test_void_request_carries_the_reference_message_first() -> None:
    command = parse_request(void_request(REF, "1"))
    names = [command_of(c) for c in command]
    assert names == ["printRecMessage", "printRecTotal", "endFiscalReceipt"]
    assert command[0].get("messageType") == "4"
    assert command[0].get("message") == "VOID 0012 0003 04092024 99MEY012345"
    assert "payment" not in command[1].attrib


def test_a_reference_with_a_bad_serial_is_refused() -> None:
    bad = FiscalDocumentRef(1, 1, dt.date(2024, 1, 1), "99 MEY")
    with pytest.raises(EncodingError):
        void_request(bad, "1")


def test_report_and_status_requests() -> None:
    assert command_of(parse_request(z_report_request("1"))[0]) == "printXZReport"
    assert command_of(parse_request(z_report_request("1", with_x=False))[0]) == "printZReport"
    query = parse_request(status_request(1))[0]
    assert command_of(query) == "queryPrinterStatus"
    assert query.get("statusType") == "1"


def test_response_round_trip_keeps_add_info_in_order() -> None:
    info = {"printerStatus": "20110", "fiscalReceiptNumber": "3", "zRepNumber": "12"}
    data = build_response(True, "", "2", info)
    assert b"<soapenv:Envelope" in data
    assert b"<elementList>printerStatus,fiscalReceiptNumber,zRepNumber</elementList>" in data
    response = parse_response(data)
    assert response.success is True
    assert response.code == ""
    assert response.status == "2"
    assert dict(response.info) == info


def test_a_failure_response_parses() -> None:
    response = parse_response(build_response(False, "EPTR_REC_EMPTY", "2", {}))
    assert (response.success, response.code) == (False, "EPTR_REC_EMPTY")


@pytest.mark.parametrize(
    "data",
    [b"", b"<html>oops</html>", b"<s:Envelope xmlns:s='x'/>", b"<!DOCTYPE x><x/>"],
)
def test_garbage_answers_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(data)


def test_requests_with_entities_are_refused() -> None:
    evil = b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    with pytest.raises(ValueError):
        parse_request(evil)


@pytest.mark.parametrize(
    ("paper", "cover", "raw"),
    [
        (PaperState.OK, False, "00110"),
        (PaperState.NEAR_END, False, "20110"),
        (PaperState.OUT, False, "30110"),
        (PaperState.OK, True, "30110"),
    ],
)
def test_printer_status_digits(paper: PaperState, cover: bool, raw: str) -> None:
    assert encode_printer_status(paper, cover) == raw
    assert encode_printer_status(paper, cover, drawer_open=True, document="0")[2:4] == "00"


def test_decoding_printer_status() -> None:
    ok = decode_printer_status("00110")
    assert ok.online and ok.paper is PaperState.OK and ok.cover_open is False
    assert ok.journal is JournalState.OK and ok.document is DocumentState.CLOSED
    assert ok.drawer_open is False and ok.error_code is None
    low = decode_printer_status("21010")
    assert low.paper is PaperState.NEAR_END and low.journal is JournalState.NEAR_FULL
    assert low.drawer_open is True
    offline = decode_printer_status("30100")
    assert not offline.online and offline.paper is PaperState.UNKNOWN
    assert offline.cover_open is None and offline.error_code == "offline"
    assert offline.document is DocumentState.FISCAL_OPEN
    full = decode_printer_status("05110")
    assert full.error_code == "journal_full"
    for bad in ("", "9x", "90110"):
        with pytest.raises(ProtocolError):
            decode_printer_status(bad)
