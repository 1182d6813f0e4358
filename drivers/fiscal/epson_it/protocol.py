"""Epson "Fiscal ePOS-Print" XML (FPMate, ``/cgi-bin/fpmate.cgi``): building and parsing.

Requests are a SOAP-like envelope around one command element::

    <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
      <printerFiscalReceipt>
        <beginFiscalReceipt operator="1" />
        <printRecItem operator="1" description="..." quantity="1" unitPrice="3,50"
                      department="1" justification="1" />
        <printRecTotal operator="1" description="CONTANTI" payment="5,00"
                       paymentType="0" index="0" justification="1" />
        <endFiscalReceipt operator="1" />
      </printerFiscalReceipt>
    </s:Body></s:Envelope>

and answers are ``<soapenv:Envelope>``/``<soapenv:Body>`` around
``<response success="true" code="" status="2"><addInfo>...</addInfo></response>``, where
``addInfo`` lists its children in ``elementList`` (``printerStatus``,
``fiscalReceiptNumber``, ``fiscalReceiptAmount``, ``fiscalReceiptDate`` d/m/yyyy,
``fiscalReceiptTime``, ``zRepNumber`` ...).

Sources: Epson Italia "ePOS Fiscal Print Solution Development Guide" (FP 000 055 EN; its
revision history names the response elements), lyancoder/fiscal-printer
``lib/printer/epson/xml-http.ts`` (envelope, report and void requests), OCA l10n-italy
``fiscal_epos_print/static/src/js/epson_epos_print.js`` (receipt flow, VOID/REFUND
reference messages, the ``printerStatus`` digit table) and 721377/procassa
``lib/epsonxml.js`` (direct void: message, ``printRecTotal``, ``endFiscalReceipt``).

Amounts use a decimal comma, as in the guide's examples and the printer's answers.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from drivers.errors import EncodingError, ProtocolError
from drivers.fiscal.epson_it.models import (
    DocumentState,
    FiscalDocumentRef,
    FiscalPrinterStatus,
    JournalState,
    PaperState,
    Payment,
)

__all__ = [
    "DESCRIPTION_MAX",
    "MESSAGE_MAX",
    "SOAP_NS",
    "Response",
    "SaleLine",
    "build_response",
    "command_of",
    "decode_printer_status",
    "encode_printer_status",
    "format_amount",
    "format_quantity",
    "parse_date",
    "parse_decimal",
    "parse_request",
    "parse_response",
    "refund_request",
    "sale_request",
    "status_request",
    "void_request",
    "x_report_request",
    "z_report_request",
]

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
DESCRIPTION_MAX = 38
"""Characters of a sale line description the printer keeps; longer text is cut here, so
what is registered is known in advance instead of depending on firmware."""
MESSAGE_MAX = 46
"""Characters of a ``printRecMessage`` text."""

_XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


# -- values ------------------------------------------------------------------------------


def format_amount(value: Decimal) -> str:
    """``Decimal("1234.5")`` -> ``"1234,50"`` (half a cent rounds up, as on receipts)."""
    return f"{value.quantize(_CENT, ROUND_HALF_UP):f}".replace(".", ",")


def format_quantity(value: Decimal) -> str:
    """``1`` -> ``"1"``, ``1.25`` -> ``"1,25"`` (at most three decimals)."""
    text = f"{value.quantize(_MILLI, ROUND_HALF_UP):f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def parse_decimal(text: str) -> Decimal:
    """``"12,50"`` or ``"12.50"`` -> ``Decimal("12.50")``; ValueError when not a number."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    return value


def parse_date(text: str) -> dt.date:
    """``fiscalReceiptDate`` (``d/m/yyyy``) -> date."""
    day, month, year = (int(part) for part in text.strip().split("/"))
    return dt.date(year, month, day)


def _cut(text: str, limit: int) -> str:
    # The printer prints one line per item; newlines and tabs would break its layout.
    flat = " ".join(text.split())
    return flat[:limit]


# -- requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleLine:
    """One ``printRecItem``/``printRecRefund`` as sent: the department is resolved."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    department: int


def _envelope(command: ET.Element) -> bytes:
    envelope = ET.Element("s:Envelope", {"xmlns:s": SOAP_NS})
    ET.SubElement(envelope, "s:Body").append(command)
    return _XML_DECLARATION + ET.tostring(envelope, encoding="unicode").encode("utf-8")


def _line(parent: ET.Element, tag: str, line: SaleLine, operator: str) -> None:
    if not 1 <= line.department <= 99:
        raise EncodingError(f"{line.description!r}: department must be 1..99")
    ET.SubElement(
        parent,
        tag,
        {
            "operator": operator,
            "description": _cut(line.description, DESCRIPTION_MAX),
            "quantity": format_quantity(line.quantity),
            "unitPrice": format_amount(line.unit_price),
            "department": str(line.department),
            "justification": "1",
        },
    )


def _totals(parent: ET.Element, payments: Sequence[Payment], operator: str) -> None:
    if not payments:
        raise EncodingError("a receipt needs at least one payment")
    for payment in payments:
        ET.SubElement(
            parent,
            "printRecTotal",
            {
                "operator": operator,
                "description": _cut(payment.description or payment.kind.label, DESCRIPTION_MAX),
                "payment": format_amount(payment.amount),
                "paymentType": str(payment.kind.payment_type),
                "index": str(payment.kind.index),
                "justification": "1",
            },
        )


def _reference(parent: ET.Element, kind: str, ref: FiscalDocumentRef, operator: str) -> None:
    # The reference goes before beginFiscalReceipt: it turns the receipt into a
    # "documento commerciale di annullo/reso" (OCA fiscal_epos_print).
    message = ref.reference_message(kind)
    if len(message) > MESSAGE_MAX or not ref.serial.isalnum():
        raise EncodingError(f"cannot reference document {ref}: bad serial or numbers")
    ET.SubElement(
        parent,
        "printRecMessage",
        {"operator": operator, "messageType": "4", "message": message, "font": "1", "index": "1"},
    )


def sale_request(lines: Sequence[SaleLine], payments: Sequence[Payment], operator: str) -> bytes:
    """A fiscal receipt (documento commerciale di vendita)."""
    if not lines:
        raise EncodingError("a receipt needs at least one line")
    receipt = ET.Element("printerFiscalReceipt")
    ET.SubElement(receipt, "beginFiscalReceipt", {"operator": operator})
    for line in lines:
        _line(receipt, "printRecItem", line, operator)
    _totals(receipt, payments, operator)
    ET.SubElement(receipt, "endFiscalReceipt", {"operator": operator})
    return _envelope(receipt)


def refund_request(
    original: FiscalDocumentRef,
    lines: Sequence[SaleLine],
    payments: Sequence[Payment],
    operator: str,
) -> bytes:
    """A refund (reso) of some goods of ``original``."""
    if not lines:
        raise EncodingError("a refund needs at least one line")
    receipt = ET.Element("printerFiscalReceipt")
    _reference(receipt, "REFUND", original, operator)
    ET.SubElement(receipt, "beginFiscalReceipt", {"operator": operator})
    for line in lines:
        _line(receipt, "printRecRefund", line, operator)
    _totals(receipt, payments, operator)
    ET.SubElement(receipt, "endFiscalReceipt", {"operator": operator})
    return _envelope(receipt)


def void_request(
    original: FiscalDocumentRef, operator: str, lines: Sequence[SaleLine] = ()
) -> bytes:
    """A void (annullo) of the whole of ``original``.

    Without lines this is the direct void (message, bare ``printRecTotal``,
    ``endFiscalReceipt``: procassa ``annulloDirettoScontrino``); with lines they are
    listed as ``printRecRefund`` like OCA's full-refund void.
    """
    receipt = ET.Element("printerFiscalReceipt")
    _reference(receipt, "VOID", original, operator)
    if lines:
        ET.SubElement(receipt, "beginFiscalReceipt", {"operator": operator})
        for line in lines:
            _line(receipt, "printRecRefund", line, operator)
    ET.SubElement(receipt, "printRecTotal", {"operator": operator})
    ET.SubElement(receipt, "endFiscalReceipt", {"operator": operator})
    return _envelope(receipt)


def z_report_request(operator: str, *, with_x: bool = True) -> bytes:
    """Daily closure: ``printXZReport`` (financial report and closure in one, which is
    what integrations use: OCA calls bare ``printZReport`` "forbidden by Epson by
    default"), or ``printZReport`` when ``with_x`` is false."""
    report = ET.Element("printerFiscalReport")
    ET.SubElement(report, "printXZReport" if with_x else "printZReport", {"operator": operator})
    return _envelope(report)


def x_report_request(operator: str) -> bytes:
    """The daily financial report (no closure)."""
    report = ET.Element("printerFiscalReport")
    ET.SubElement(report, "printXReport", {"operator": operator})
    return _envelope(report)


def status_request(status_type: int = 0) -> bytes:
    """``queryPrinterStatus``: 0 = printer status, 1 = RT status."""
    command = ET.Element("printerCommand")
    ET.SubElement(command, "queryPrinterStatus", {"operator": "1", "statusType": str(status_type)})
    return _envelope(command)


# -- parsing -----------------------------------------------------------------------------


def _parse_xml(data: bytes) -> ET.Element:
    # No DTDs: nothing on this wire needs one, and refusing them rules out entity tricks.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("DTDs are not accepted")
    try:
        return ET.fromstring(data)  # noqa: S314 - DTDs refused above; expat >= 2.4 limits
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from exc


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _body_child(root: ET.Element) -> ET.Element:
    if _local(root.tag) != "Envelope":
        raise ValueError(f"expected a SOAP Envelope, got <{_local(root.tag)}>")
    for body in root:
        if _local(body.tag) == "Body":
            children = list(body)
            if len(children) != 1:
                raise ValueError("the Body must hold exactly one element")
            return children[0]
    raise ValueError("no Body in the Envelope")


def parse_request(data: bytes) -> ET.Element:
    """The command element (``printerFiscalReceipt`` ...) of a request; ValueError if bad."""
    return _body_child(_parse_xml(data))


def command_of(element: ET.Element) -> str:
    """The element's name without any namespace."""
    return _local(element.tag)


@dataclass(frozen=True)
class Response:
    """A parsed ``<response>``: ``success``, ``code`` (``""`` or e.g. ``EPTR_REC_EMPTY``),
    ``status`` and the ``addInfo`` children by name."""

    success: bool
    code: str
    status: str
    info: Mapping[str, str] = field(default_factory=dict)


def build_response(
    success: bool, code: str, status: str, info: Mapping[str, str] | None = None
) -> bytes:
    """The printer's answer document."""
    envelope = ET.Element("soapenv:Envelope", {"xmlns:soapenv": SOAP_NS})
    body = ET.SubElement(envelope, "soapenv:Body")
    response = ET.SubElement(
        body,
        "response",
        {"success": "true" if success else "false", "code": code, "status": status},
    )
    if info:
        add_info = ET.SubElement(response, "addInfo")
        ET.SubElement(add_info, "elementList").text = ",".join(info)
        for name, value in info.items():
            ET.SubElement(add_info, name).text = value
    return _XML_DECLARATION + ET.tostring(envelope, encoding="unicode").encode("utf-8")


def parse_response(data: bytes) -> Response:
    """Parse the printer's answer; ProtocolError when it is not one."""
    try:
        response = _body_child(_parse_xml(data))
    except ValueError as exc:
        raise ProtocolError(f"unreadable answer from the printer: {exc}") from exc
    if _local(response.tag) != "response" or "success" not in response.attrib:
        raise ProtocolError(f"unexpected answer element <{_local(response.tag)}>")
    info: dict[str, str] = {}
    for add_info in response:
        if _local(add_info.tag) == "addInfo":
            for child in add_info:
                name = _local(child.tag)
                if name != "elementList":
                    info[name] = (child.text or "").strip()
    return Response(
        success=response.attrib["success"].lower() == "true",
        code=response.attrib.get("code", ""),
        status=response.attrib.get("status", ""),
        info=info,
    )


# -- printerStatus: five characters ------------------------------------------------------
# 1 printer: 0 ok, 2 paper running low, 3 offline (end of paper or cover open)
# 2 electronic journal: 0 ok, 1 running low, 2 to format, 3 previous, 4 other device, 5 full
# 3 cash drawer: 0 open, 1 closed
# 4 document: 0 fiscal open, 1 closed, 2 non fiscal open, 3 payment in progress, 4/6 error
#   on the last ESC/POS command, 5 negative receipt, 8 fiscal document open, ...
# 5 operating mode: 0 registration (R), 1 X, 2 Z, 3 programming, ...
# (OCA fiscal_epos_print decodeFpStatus; the drawer and mode characters follow the guide.)

_JOURNAL = {
    "0": JournalState.OK,
    "1": JournalState.NEAR_FULL,
    "2": JournalState.TO_FORMAT,
    "3": JournalState.PREVIOUS,
    "4": JournalState.OTHER_DEVICE,
    "5": JournalState.FULL,
}
_DOCUMENT = {
    "0": DocumentState.FISCAL_OPEN,
    "1": DocumentState.CLOSED,
    "2": DocumentState.NON_FISCAL_OPEN,
    "3": DocumentState.PAYMENT_IN_PROGRESS,
    "4": DocumentState.ERROR,
    "6": DocumentState.ERROR,
}


def encode_printer_status(
    paper: PaperState,
    cover_open: bool,
    *,
    journal: str = "0",
    drawer_open: bool = False,
    document: str = "1",
    mode: str = "0",
) -> str:
    """The five ``printerStatus`` characters for a printer in this state."""
    if cover_open or paper is PaperState.OUT:
        printer = "3"
    elif paper is PaperState.NEAR_END:
        printer = "2"
    else:
        printer = "0"
    return f"{printer}{journal}{'0' if drawer_open else '1'}{document}{mode}"


def decode_printer_status(
    raw: str, *, details: Mapping[str, str] | None = None
) -> FiscalPrinterStatus:
    """Decode ``printerStatus``; ProtocolError if it is not five status characters."""
    if len(raw) != 5:
        raise ProtocolError(f"printerStatus {raw!r}: expected five characters")
    printer, journal, drawer, document = raw[0], raw[1], raw[2], raw[3]
    if printer not in "023":
        raise ProtocolError(f"printerStatus {raw!r}: unknown printer state {printer!r}")
    online = printer != "3"
    paper = {"0": PaperState.OK, "2": PaperState.NEAR_END}.get(printer, PaperState.UNKNOWN)
    journal_state = _JOURNAL.get(journal, JournalState.UNKNOWN)
    error_code: str | None = None
    error: str | None = None
    if not online:
        error_code, error = "offline", "offline (end of paper or cover open)"
    elif journal_state in (JournalState.FULL, JournalState.TO_FORMAT, JournalState.OTHER_DEVICE):
        error_code, error = "journal_" + journal_state.value, f"electronic journal {journal_state}"
    return FiscalPrinterStatus(
        online=online,
        paper=paper,
        cover_open=False if online else None,
        journal=journal_state,
        document=_DOCUMENT.get(document, DocumentState.OTHER),
        drawer_open={"0": True, "1": False}.get(drawer),
        error_code=error_code,
        error=error,
        raw=raw,
        details=dict(details or {}),
    )


def element_names(elements: Iterable[ET.Element]) -> list[str]:
    """Local names of ``elements`` (for messages)."""
    return [_local(element.tag) for element in elements]
