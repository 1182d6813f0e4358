"""``FpmateEmulator`` on its own: raw HTTP through ``receive`` (the emu:// path), the
validation a real printer does, faults and output."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from drivers.errors import ConnectFailed, UnsupportedFeature
from drivers.fiscal.epson_it.emulator import FpmateEmulator
from drivers.fiscal.epson_it.models import FiscalDocumentRef, PaperState, Payment, PaymentKind
from drivers.fiscal.epson_it.protocol import (
    SaleLine,
    parse_response,
    sale_request,
    status_request,
    void_request,
)

WHEN = dt.datetime(2024, 9, 4, 18, 5)


def _emulator() -> FpmateEmulator:
    return FpmateEmulator({"serial": "99MEY000001"}, clock=lambda: WHEN)


def _http(body: bytes, path: str = "/cgi-bin/fpmate.cgi", method: str = "POST") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _answer(raw: bytes) -> tuple[str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode().split("\r\n")[0], body


def _sale_body(department: int = 1, paid: str = "10") -> bytes:
    line = SaleLine("Pane", Decimal(1), Decimal("3.50"), department)
    return sale_request([line], [Payment(Decimal(paid))], "1")


def test_requests_split_anywhere_are_answered_once_complete() -> None:
    emulator = _emulator()
    raw = _http(_sale_body())
    replies = [emulator.receive(raw[i : i + 7]) for i in range(0, len(raw), 7)]
    assert all(reply == b"" for reply in replies[:-1])
    status_line, body = _answer(replies[-1])
    assert status_line == "HTTP/1.1 200 OK"
    response = parse_response(body)
    assert response.success
    assert response.info["fiscalReceiptNumber"] == "1"
    assert response.info["fiscalReceiptDate"] == "4/9/2024"
    assert response.info["fiscalReceiptTime"] == "18:05"
    assert response.info["fiscalReceiptAmount"] == "3,50"


def test_wrong_path_method_and_garbage() -> None:
    emulator = _emulator()
    assert _answer(emulator.receive(_http(b"", path="/other")))[0].endswith("404 Not Found")
    assert _answer(emulator.receive(_http(b"", method="GET")))[0].endswith("405 Method Not Allowed")
    assert _answer(emulator.receive(b"NONSENSE\r\n\r\n"))[0].endswith("400 Bad Request")
    response = parse_response(_answer(emulator.receive(_http(b"<not xml")))[1])
    assert (response.success, response.code) == (False, "PARSER_ERROR")


def test_unprogrammed_department_is_refused() -> None:
    emulator = _emulator()
    response = parse_response(emulator.handle_xml(_sale_body(department=42)))
    assert (response.success, response.code) == (False, "FP_REJECTED")
    assert "department 42" in response.info["errorDescription"]
    assert emulator.documents == []


def test_short_payment_is_refused() -> None:
    emulator = _emulator()
    response = parse_response(emulator.handle_xml(_sale_body(paid="3.49")))
    assert not response.success and "do not cover" in response.info["errorDescription"]


def test_void_of_a_missing_receipt_is_refused_and_of_a_real_one_accepted() -> None:
    emulator = _emulator()
    missing = FiscalDocumentRef(1, 1, WHEN.date(), "99MEY000001")
    assert not parse_response(emulator.handle_xml(void_request(missing, "1"))).success
    assert parse_response(emulator.handle_xml(_sale_body())).success
    voided = parse_response(emulator.handle_xml(void_request(missing, "1")))
    assert voided.success and voided.info["fiscalReceiptNumber"] == "2"
    wrong_day = FiscalDocumentRef(1, 1, dt.date(2024, 9, 5), "99MEY000001")
    assert not parse_response(emulator.handle_xml(void_request(wrong_day, "1"))).success


def test_receipt_structure_is_checked() -> None:
    emulator = _emulator()
    unended = _sale_body().replace(b'<endFiscalReceipt operator="1" />', b"")
    response = parse_response(emulator.handle_xml(unended))
    assert "not ended" in response.info["errorDescription"]
    unknown = _sale_body().replace(b"beginFiscalReceipt", b"beginSomething")
    assert not parse_response(emulator.handle_xml(unknown)).success


def test_status_query_answers_even_with_paper_out() -> None:
    emulator = _emulator()
    emulator.apply_faults({"paper": "out"})
    response = parse_response(emulator.handle_xml(status_request(1)))
    assert response.success
    assert response.info["printerStatus"][0] == "3"
    assert response.info["rtSerialNumber"] == "99MEY000001"
    refused = parse_response(emulator.handle_xml(_sale_body()))
    assert (refused.success, refused.code) == (False, "EPTR_REC_EMPTY")
    assert refused.info["printerStatus"][0] == "3"


def test_faults_are_validated_all_or_nothing() -> None:
    emulator = _emulator()
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults({"paper": "out", "cover": "ajar"})
    assert emulator.paper is PaperState.OK
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults({"drawer": "open"})
    emulator.apply_faults({"cover": "open", "paper": "near_end"})
    assert emulator.state() == {"link": "up", "paper": "near_end", "cover": "open"}


def test_link_down_refuses_in_process_sessions() -> None:
    emulator = _emulator()
    emulator.apply_faults({"link": "down"})
    with pytest.raises(ConnectFailed):
        emulator.connect()


def test_unknown_options_are_refused() -> None:
    with pytest.raises(Exception, match="unknown fpmate emulator option"):
        FpmateEmulator({"colour": "red"})


def test_output_text_png_and_tear_off() -> None:
    emulator = _emulator()
    emulator.handle_xml(_sale_body())
    assert "Pane" in emulator.output_text()
    png = emulator.output_png()
    assert png.startswith(b"\x89PNG")
    emulator.clear_output()
    assert emulator.output_text() == ""
    assert len(emulator.documents) == 1  # the fiscal memory keeps it


def test_card_payment_labels() -> None:
    emulator = _emulator()
    line = SaleLine("Libro", Decimal(1), Decimal("12.00"), 4)
    body = sale_request([line], [Payment(Decimal(12), PaymentKind.CARD)], "1")
    assert parse_response(emulator.handle_xml(body)).success
    assert "CARTA DI CREDITO" in emulator.output_text()
    assert " 4% " in emulator.output_text()
