"""``EpsonFiscalPrinter``: an Italian RT fiscal printer (Epson FP-81 II RT, FP-90III RT ...)
driven through its FPMate XML endpoint, ``POST /cgi-bin/fpmate.cgi``.

Every call is one HTTP request on its own connection; the printer registers a document
completely or not at all, and answers its number. What can go wrong, and what it means
for the document:

* ``ConnectFailed``: the printer could not be reached, nothing was sent, nothing happened.
* ``TransportTimeout`` / ``ConnectionLost`` after sending: the document may or may not be
  registered. Do not resend blindly; check the printer (its journal) first.
* ``FiscalPrinterError``: the printer refused (``success="false"``); nothing was
  registered. Paper out, cover open and offline are ``FiscalPrinterNotReady`` (also a
  ``DeviceNotReady``), so callers hold the job until the printer is fixed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import ClassVar

from drivers.errors import DeviceError, DeviceNotReady, EncodingError, ProtocolError
from drivers.fiscal.epson_it import _http
from drivers.fiscal.epson_it.models import (
    DEFAULT_DEPARTMENTS,
    ClosureResult,
    DepartmentTable,
    FiscalDocumentRef,
    FiscalItem,
    FiscalPrinterStatus,
    FiscalResult,
    PaperState,
    Payment,
)
from drivers.fiscal.epson_it.protocol import (
    Response,
    SaleLine,
    decode_printer_status,
    parse_date,
    parse_decimal,
    parse_response,
    refund_request,
    sale_request,
    status_request,
    void_request,
    z_report_request,
)

__all__ = ["EpsonFiscalPrinter", "FiscalPrinterError", "FiscalPrinterNotReady"]

DEFAULT_PATH = "/cgi-bin/fpmate.cgi"

# Printer answer codes -> our stable codes. EPTR_REC_EMPTY and the FP_NO_ANSWER family
# are in integrations' error tables (procassa decodificaErroriCassa, OCA); EPTR_COVER_OPEN
# is the ePOS-Print name for an open cover.
_NOT_READY = {
    "EPTR_REC_EMPTY": ("paper_out", "the printer is out of paper"),
    "EPTR_COVER_OPEN": ("cover_open", "the printer cover is open"),
    "FP_NO_ANSWER": ("offline", "the print engine does not answer the web server"),
    "FP_NO_ANSWER_NETWORK": ("offline", "the print engine does not answer the web server"),
}
_REJECTED = {
    "PARSER_ERROR": "parser_error",
}


class FiscalPrinterError(DeviceError):
    """The fiscal printer refused a command (``success="false"``); nothing was registered.

    ``code`` is stable (``paper_out``, ``cover_open``, ``offline``, ``parser_error``,
    ``rejected``); ``printer_code`` is what the printer said (``EPTR_REC_EMPTY`` ...) and
    ``status`` the decoded printer status, when it sent one.
    """

    code = "fiscal_printer_error"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        printer_code: str = "",
        status: FiscalPrinterStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.printer_code = printer_code
        self.status = status


class FiscalPrinterNotReady(FiscalPrinterError, DeviceNotReady):
    """Paper out, cover open or offline: retry once the printer is fixed."""


class EpsonFiscalPrinter:
    """One Epson RT printer at ``host:port``.

    ``departments`` must mirror how the printer's departments are programmed (VAT rate or
    exemption per department); items are placed by it. ``serial`` is the printer's fiscal
    serial (matricola, e.g. ``99MEY012345``): results carry it so that they can be voided
    or refunded later.
    """

    kind: ClassVar[str] = "fiscal_cashbox"

    def __init__(
        self,
        host: str,
        port: int = 80,
        *,
        model: str = "FP-81 II RT",
        timeout: float = 5.0,
        path: str = DEFAULT_PATH,
        serial: str | None = None,
        departments: DepartmentTable = DEFAULT_DEPARTMENTS,
    ) -> None:
        self.host = host
        self.port = port
        self.model = model
        self.timeout = timeout
        self.path = path
        self.serial = serial
        self.departments = departments
        self._offline_cause: str | None = None

    # -- documents ------------------------------------------------------------------------

    async def fiscal_receipt(
        self, items: Sequence[FiscalItem], payments: Sequence[Payment], *, operator: str = "1"
    ) -> FiscalResult:
        """Register and print a sale; returns its number, Z number and date/time."""
        _check_payments(items, payments)
        body = sale_request(self._lines(items), payments, _operator(operator))
        return self._result(await self._send(body))

    async def void(
        self,
        original: FiscalDocumentRef,
        items: Sequence[FiscalItem] = (),
        *,
        operator: str = "1",
    ) -> FiscalResult:
        """Void (annullo) the whole of ``original``. ``items`` optionally lists its lines
        on the void document; the printer checks them against the original."""
        body = void_request(original, _operator(operator), self._lines(items))
        return self._result(await self._send(body))

    async def refund(
        self,
        original: FiscalDocumentRef,
        items: Sequence[FiscalItem],
        payments: Sequence[Payment],
        *,
        operator: str = "1",
    ) -> FiscalResult:
        """Refund (reso) ``items`` of ``original``, paying back ``payments``."""
        _check_payments(items, payments, exact=True)
        body = refund_request(original, self._lines(items), payments, _operator(operator))
        return self._result(await self._send(body))

    async def daily_closure(self, *, operator: str = "1") -> ClosureResult:
        """The daily closure (Z report, printed with its X report)."""
        response = await self._send(z_report_request(_operator(operator)))
        try:
            z_number = int(response.info["zRepNumber"])
            amount = response.info.get("dailyAmount")
            return ClosureResult(
                z_number=z_number,
                daily_amount=parse_decimal(amount) if amount else None,
                date_time=_date_time(response),
            )
        except (KeyError, ValueError) as exc:
            raise ProtocolError(f"incomplete Z report answer: {dict(response.info)}") from exc

    # -- status ---------------------------------------------------------------------------

    async def status(self) -> FiscalPrinterStatus:
        """Ask the printer how it is (``queryPrinterStatus``).

        The status digits cannot tell paper out from cover open; when a refused command
        told us which, while the printer stayed offline, that cause is reported.
        """
        response = parse_response(await self._post(status_request(0)))
        raw = response.info.get("printerStatus") or response.info.get("fpStatus", "")
        status = decode_printer_status(raw, details=response.info)
        if status.online:
            self._offline_cause = None
            return status
        return self._with_offline_cause(status)

    async def aclose(self) -> None:
        """Nothing to release: every request uses its own connection."""

    async def __aenter__(self) -> EpsonFiscalPrinter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------------------

    def _lines(self, items: Sequence[FiscalItem]) -> list[SaleLine]:
        return [
            SaleLine(
                item.description,
                item.quantity,
                item.unit_price,
                self.departments.resolve(item).number,
            )
            for item in items
        ]

    async def _post(self, body: bytes) -> bytes:
        return await _http.post(self.host, self.port, self.path, body, timeout=self.timeout)

    async def _send(self, body: bytes) -> Response:
        response = parse_response(await self._post(body))
        if response.success:
            return response
        raw = response.info.get("printerStatus", "")
        status = decode_printer_status(raw, details=response.info) if len(raw) == 5 else None
        not_ready = _NOT_READY.get(response.code)
        if not_ready is not None:
            code, text = not_ready
            self._offline_cause = code
            if status is not None:
                status = self._with_offline_cause(status)
            raise FiscalPrinterNotReady(
                f"{self.model} at {self.host}: {text} ({response.code})",
                code=code,
                printer_code=response.code,
                status=status,
            )
        detail = response.info.get("errorDescription", "")
        raise FiscalPrinterError(
            f"{self.model} at {self.host} refused the command: {response.code}"
            + (f" ({detail})" if detail else ""),
            code=_REJECTED.get(response.code, "rejected"),
            printer_code=response.code,
            status=status,
        )

    def _with_offline_cause(self, status: FiscalPrinterStatus) -> FiscalPrinterStatus:
        cause = self._offline_cause
        if status.online or cause not in ("paper_out", "cover_open"):
            return status
        if cause == "paper_out":
            return replace(status, paper=PaperState.OUT, error_code=cause, error="paper out")
        return replace(status, cover_open=True, error_code=cause, error="cover open")

    def _result(self, response: Response) -> FiscalResult:
        info = response.info
        try:
            amount = info.get("fiscalReceiptAmount")
            return FiscalResult(
                number=int(info["fiscalReceiptNumber"]),
                z_number=int(info["zRepNumber"]),
                date_time=_date_time(response) or dt.datetime.now(),
                amount=parse_decimal(amount) if amount else None,
                serial=self.serial,
            )
        except (KeyError, ValueError) as exc:
            raise ProtocolError(f"the printer's answer lacks the document data: {info}") from exc


def _operator(operator: str) -> str:
    if not (operator.isdigit() and 1 <= int(operator) <= 12):
        raise EncodingError(f"operator {operator!r}: expected 1..12")
    return str(int(operator))


def _date_time(response: Response) -> dt.datetime | None:
    date_text = response.info.get("fiscalReceiptDate")
    if not date_text:
        return None
    day = parse_date(date_text)
    time_text = response.info.get("fiscalReceiptTime", "00:00")
    hour, _, minute = time_text.partition(":")
    return dt.datetime.combine(day, dt.time(int(hour), int(minute[:2] or 0)))


def _check_payments(
    items: Sequence[FiscalItem], payments: Sequence[Payment], *, exact: bool = False
) -> None:
    """Refuse before sending what the printer would refuse: payments short of the total."""
    total = sum((item.amount for item in items), Decimal(0))
    paid = sum((payment.amount for payment in payments), Decimal(0))
    if paid < total:
        raise EncodingError(f"payments {paid} do not cover the total {total}")
    if exact and paid != total:
        raise EncodingError(f"a refund pays back exactly its total {total}, not {paid}")
