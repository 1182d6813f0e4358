"""An Epson RT fiscal printer's FPMate endpoint, emulated: ``POST /cgi-bin/fpmate.cgi``.

``FpmateEmulator`` keeps a fiscal memory like the printer's: documents numbered per day,
a daily closure (Z) counter, the printed documents with their lines and VAT labels. It
checks requests the way the printer does before registering anything: departments must
be programmed, payments must cover the total (change only from cash), a void or refund
must reference an existing sale of this printer that is not voided.

Faults (``apply_faults``): ``paper`` ok | near_end | out, ``cover`` open | closed, and the
link faults of every emulator. Paper out or cover open make fiscal commands fail with
``success="false"`` and ``EPTR_REC_EMPTY`` / ``EPTR_COVER_OPEN`` and the printer status;
status queries still answer. ``link=down`` stops the listeners (connections are refused)
and drops open connections; ``link=slow`` delays answers like a 9600 baud line.

The same object serves the in-process ``emu://`` transport (``receive`` takes raw HTTP
bytes) and real TCP ports (``serve``). Codes the real printer's firmware would answer to
a refused document vary; the emulator answers ``FP_REJECTED`` with an
``errorDescription``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import ClassVar

from PIL import Image, ImageDraw, ImageFont

from drivers.emulation import Emulator
from drivers.errors import UnsupportedFeature
from drivers.fiscal.epson_it._http import HttpRequest, HttpRequestParser, http_response
from drivers.fiscal.epson_it._memory import (
    Closure,
    DocumentKind,
    FiscalDocument,
    PrintedLine,
    PrintedPayment,
)
from drivers.fiscal.epson_it.models import (
    DEFAULT_DEPARTMENTS,
    DepartmentTable,
    FiscalDocumentRef,
    PaperState,
    PaymentKind,
)
from drivers.fiscal.epson_it.protocol import (
    build_response,
    command_of,
    encode_printer_status,
    format_amount,
    parse_decimal,
    parse_request,
)

__all__ = ["FpmateEmulator", "FpmateServer"]

DEFAULT_SERIAL = "99MEY012345"
REJECTED = "FP_REJECTED"
_STATUS_ATTRIBUTE = "2"  # what the sources' example answers carry; printerStatus has the detail
_CHUNK = 4096


class _Rejected(Exception):
    """A request the printer refuses; the message goes to ``errorDescription``."""


class FpmateEmulator(Emulator):
    """An Epson RT printer behind FPMate. ``documents`` and ``closures`` are its fiscal
    memory, readable by tests; ``clock`` gives the printer's date and time."""

    kind: ClassVar[str] = "fpmate"
    OPTIONS: ClassVar[frozenset[str]] = frozenset({"serial", "model", "path"})

    def __init__(
        self,
        options: Mapping[str, str] | None = None,
        *,
        departments: DepartmentTable = DEFAULT_DEPARTMENTS,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        super().__init__()
        opts = self.known_options(options)
        self.serial = opts.get("serial", DEFAULT_SERIAL)
        self.model = opts.get("model", "FP-81 II RT")
        self.path = opts.get("path", "/cgi-bin/fpmate.cgi")
        self.departments = departments
        self.clock = clock
        self.z_number = 1
        """The current day's closure number: the next Z report gets it."""
        self.daily_counter = 0
        self.documents: list[FiscalDocument] = []
        self.closures: list[Closure] = []
        self.paper = PaperState.OK
        self.cover_open = False
        self._parser = HttpRequestParser()
        self._servers: set[FpmateServer] = set()
        self._output_from = 0  # documents and closures before these were torn off
        self._closures_from = 0

    # -- links ----------------------------------------------------------------------------

    async def serve(self, host: str, port: int) -> FpmateServer:
        """Listen on ``host:port`` (0 = a free port, read ``.port``)."""
        server = FpmateServer(self, host, port)
        await server.start()
        return server

    def _apply_link(self, value: str) -> None:
        super()._apply_link(value)
        for server in list(self._servers):
            if value == "down":
                server.suspend()
            elif value == "up":
                server.resume()

    def receive(self, data: bytes) -> bytes:
        """Raw HTTP in (any split), raw HTTP answers out: the ``emu://`` path."""
        try:
            requests = self._parser.feed(data)
        except ValueError:
            self._parser = HttpRequestParser()
            return http_response(400, b"bad request\n", close=True, content_type="text/plain")
        return b"".join(self.handle_http(request) for request in requests)

    def handle_http(self, request: HttpRequest) -> bytes:
        """Answer one HTTP request."""
        close = request.wants_close
        if request.path != self.path:
            return http_response(404, b"not found\n", close=close, content_type="text/plain")
        if request.method != "POST":
            return http_response(405, b"POST only\n", close=close, content_type="text/plain")
        return http_response(200, self.handle_xml(request.body), close=close)

    # -- the XML protocol ------------------------------------------------------------------

    def handle_xml(self, body: bytes) -> bytes:
        """Answer one fpmate.cgi request document."""
        try:
            command = parse_request(body)
        except ValueError:
            return build_response(False, "PARSER_ERROR", _STATUS_ATTRIBUTE, self._status_info())
        name = command_of(command)
        if name == "printerCommand":
            return self._printer_command(command)
        if name in ("printerFiscalReceipt", "printerFiscalReport"):
            fault = self._fault_code()
            if fault:
                return build_response(False, fault, _STATUS_ATTRIBUTE, self._status_info())
            try:
                if name == "printerFiscalReceipt":
                    return self._fiscal_receipt(command)
                return self._fiscal_report(command)
            except _Rejected as exc:
                return self._rejected(str(exc))
        return self._rejected(f"unknown command <{name}>")

    def _fault_code(self) -> str:
        if self.cover_open:
            return "EPTR_COVER_OPEN"
        if self.paper is PaperState.OUT:
            return "EPTR_REC_EMPTY"
        return ""

    def _status_info(self) -> dict[str, str]:
        return {"printerStatus": encode_printer_status(self.paper, self.cover_open)}

    def _rejected(self, why: str) -> bytes:
        info = self._status_info() | {"errorDescription": why}
        return build_response(False, REJECTED, _STATUS_ATTRIBUTE, info)

    def _printer_command(self, command: ET.Element) -> bytes:
        info: dict[str, str] = {}
        for child in command:
            name = command_of(child)
            if name == "queryPrinterStatus":
                status = encode_printer_status(self.paper, self.cover_open)
                info |= {
                    "lastCommand": "74",
                    "dateTime": f"{self.clock():%d/%m/%Y %H:%M}",
                    "printerStatus": status,
                    "fpStatus": status,
                    "cpuRel": "07.00",
                    "mfRel": "07.00",
                    "mfStatus": "01",
                }
                if child.get("statusType") == "1":
                    info |= {
                        "rtType": "I",
                        "rtMainStatus": "02",  # "in servizio"
                        "rtSubStatus": "08",
                        "rtDailyOpen": "1" if self.daily_counter else "0",
                        "rtSerialNumber": self.serial,
                        "rtZRepNumber": str(self.z_number),
                    }
            elif name not in ("openDrawer", "displayText", "resetPrinter"):
                return self._rejected(f"unsupported printerCommand <{name}>")
        return build_response(True, "", _STATUS_ATTRIBUTE, info or self._status_info())

    def _fiscal_report(self, report: ET.Element) -> bytes:
        names = [command_of(child) for child in report if command_of(child) != "displayText"]
        if len(names) != 1:
            raise _Rejected("expected one report element")
        now = self.clock()
        daily = self._daily_amount()
        if names[0] == "printXReport":
            info = {"zRepNumber": str(self.z_number), "dailyAmount": format_amount(daily)}
        elif names[0] in ("printZReport", "printXZReport"):
            closure = Closure(self.z_number, now, daily, self.daily_counter)
            self.closures.append(closure)
            self.z_number += 1
            self.daily_counter = 0
            info = {"zRepNumber": str(closure.z_number), "dailyAmount": format_amount(daily)}
        else:
            raise _Rejected(f"unknown report <{names[0]}>")
        return build_response(True, "", _STATUS_ATTRIBUTE, self._status_info() | info)

    def _daily_amount(self) -> Decimal:
        return sum(
            (doc.signed_total for doc in self.documents if doc.z_number == self.z_number),
            Decimal(0),
        )

    def _fiscal_receipt(self, receipt: ET.Element) -> bytes:
        document = self._parse_receipt(receipt)
        self._check_and_link(document)
        self.daily_counter += 1
        document.number = self.daily_counter
        self.documents.append(document)
        info = self._status_info() | {
            "fiscalReceiptNumber": str(document.number),
            "fiscalReceiptAmount": format_amount(document.total),
            "fiscalReceiptDate": f"{document.date_time.day}/{document.date_time.month}/"
            f"{document.date_time.year}",
            "fiscalReceiptTime": f"{document.date_time:%H:%M}",
            "zRepNumber": str(document.z_number),
        }
        return build_response(True, "", _STATUS_ATTRIBUTE, info)

    def _parse_receipt(self, receipt: ET.Element) -> FiscalDocument:
        kind = DocumentKind.SALE
        reference: FiscalDocumentRef | None = None
        begun = ended = bare_total = False
        lines: list[PrintedLine] = []
        payments: list[PrintedPayment] = []
        for child in receipt:
            name = command_of(child)
            if ended:
                if name in ("openDrawer", "displayText"):
                    continue
                raise _Rejected(f"<{name}> after endFiscalReceipt")
            if name == "printRecMessage":
                if child.get("messageType") == "4":
                    if begun or reference is not None:
                        raise _Rejected("the void/refund reference must come first, once")
                    kind, reference = _parse_reference(child.get("message", ""))
            elif name == "beginFiscalReceipt":
                if begun:
                    raise _Rejected("beginFiscalReceipt twice")
                begun = True
            elif name in ("printRecItem", "printRecRefund"):
                wanted = "printRecItem" if kind is DocumentKind.SALE else "printRecRefund"
                if not begun or name != wanted:
                    raise _Rejected(f"<{name}> is not allowed here")
                lines.append(self._parse_line(child))
            elif name == "printRecTotal":
                if "payment" in child.attrib:
                    payments.append(_parse_payment(child))
                else:
                    bare_total = True
            elif name == "endFiscalReceipt":
                ended = True
            elif name not in ("displayText", "openDrawer"):
                raise _Rejected(f"unsupported element <{name}>")
        if not ended:
            raise _Rejected("the receipt was not ended")
        if kind is DocumentKind.SALE and not begun:
            raise _Rejected("no beginFiscalReceipt")
        if kind is DocumentKind.VOID and payments:
            raise _Rejected("a void takes no payments")
        if kind is not DocumentKind.VOID and not payments and not bare_total:
            raise _Rejected("no printRecTotal")
        now = self.clock()
        return FiscalDocument(
            kind=kind,
            z_number=self.z_number,
            number=0,
            date_time=now.replace(second=0, microsecond=0),
            serial=self.serial,
            lines=lines,
            payments=payments,
            total=sum((line.amount for line in lines), Decimal(0)),
            reference=reference,
        )

    def _parse_line(self, element: ET.Element) -> PrintedLine:
        try:
            quantity = parse_decimal(element.get("quantity", "1"))
            unit_price = parse_decimal(element.get("unitPrice", ""))
            number = int(element.get("department", "1"))
        except ValueError as exc:
            raise _Rejected(f"bad line attributes: {exc}") from exc
        department = self.departments.get(number)
        if department is None:
            raise _Rejected(f"department {number} is not programmed")
        if quantity <= 0 or unit_price < 0:
            raise _Rejected("quantity must be positive and the price not negative")
        return PrintedLine(
            description=element.get("description", "")[:38],
            quantity=quantity,
            unit_price=unit_price,
            department=number,
            vat_rate=department.vat_rate,
            vat_label=department.vat_label,
        )

    def _check_and_link(self, document: FiscalDocument) -> None:
        """The printer's checks before registering; links voids/refunds to the original."""
        if document.kind is DocumentKind.SALE:
            if not document.lines:
                raise _Rejected("a sale needs at least one line")
            paid = sum((p.amount for p in document.payments), Decimal(0))
            not_cash = sum(
                (p.amount for p in document.payments if p.kind is not PaymentKind.CASH),
                Decimal(0),
            )
            if paid < document.total:
                raise _Rejected(f"payments {paid} do not cover the total {document.total}")
            if not_cash > document.total:
                raise _Rejected("change can only be given from cash")
            return
        if document.reference is None:
            raise _Rejected("a void or refund needs its reference message")
        original = self._find(document.reference)
        if original.voided:
            raise _Rejected("the referenced document is already voided")
        if document.kind is DocumentKind.VOID:
            if original.refunded:
                raise _Rejected("a document with refunds cannot be voided")
            if document.lines and document.total != original.total:
                raise _Rejected("the void's lines do not match the original total")
            if not document.lines:
                document.lines = list(original.lines)
            document.total = original.total
            original.voided = True
            return
        if not document.lines:
            raise _Rejected("a refund needs at least one line")
        if document.total > original.total - original.refunded:
            raise _Rejected("the refund exceeds what is left of the original")
        paid = sum((p.amount for p in document.payments), Decimal(0))
        if document.payments and paid != document.total:
            raise _Rejected(f"refund payments {paid} differ from its total {document.total}")
        original.refunded += document.total

    def _find(self, ref: FiscalDocumentRef) -> FiscalDocument:
        if ref.serial != self.serial:
            raise _Rejected(f"document of another printer ({ref.serial})")
        for doc in self.documents:
            if (doc.z_number, doc.number, doc.date_time.date()) == (
                ref.z_number,
                ref.number,
                ref.date,
            ) and doc.kind is DocumentKind.SALE:
                return doc
        raise _Rejected(f"no sale N.{ref.z_number:04d}-{ref.number:04d} of {ref.date:%d-%m-%Y}")

    # -- device faults and output ----------------------------------------------------------

    def check_device_fault(self, key: str, value: str) -> None:
        allowed = {"paper": ("ok", "near_end", "out"), "cover": ("open", "closed")}
        if key not in allowed:
            raise UnsupportedFeature(f"unknown fiscal printer fault {key!r} (paper, cover, link)")
        if value not in allowed[key]:
            raise UnsupportedFeature(f"{key}={value!r}: expected {' or '.join(allowed[key])}")

    def apply_device_fault(self, key: str, value: str) -> None:
        self.check_device_fault(key, value)
        if key == "paper":
            self.paper = PaperState(value)
        else:
            self.cover_open = value == "open"

    def state(self) -> dict[str, str]:
        return super().state() | {
            "paper": self.paper.value,
            "cover": "open" if self.cover_open else "closed",
        }

    def output_text(self) -> str:
        docs = [doc.text() for doc in self.documents[self._output_from :]]
        closures = [closure.text() for closure in self.closures[self._closures_from :]]
        return "\n\n".join(docs + closures)

    def output_png(self) -> bytes:
        text = self.output_text() or " "
        font = ImageFont.load_default()
        lines = text.split("\n")
        image = Image.new("L", (576, 24 * len(lines) + 16), 255)
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((8, 8 + 24 * row), line, fill=0, font=font)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def clear_output(self) -> None:
        self._output_from = len(self.documents)
        self._closures_from = len(self.closures)


def _parse_reference(message: str) -> tuple[DocumentKind, FiscalDocumentRef]:
    """``VOID 0012 0003 04092024 99MEY012345`` -> (VOID, reference)."""
    parts = message.split()
    if len(parts) != 5 or parts[0] not in ("VOID", "REFUND"):
        raise _Rejected(f"bad reference message {message!r}")
    try:
        date = dt.datetime.strptime(parts[3], "%d%m%Y").date()
        ref = FiscalDocumentRef(int(parts[1]), int(parts[2]), date, parts[4])
    except ValueError as exc:
        raise _Rejected(f"bad reference message {message!r}") from exc
    kind = DocumentKind.VOID if parts[0] == "VOID" else DocumentKind.REFUND
    return kind, ref


def _parse_payment(element: ET.Element) -> PrintedPayment:
    try:
        amount = parse_decimal(element.get("payment", ""))
        kind = PaymentKind.from_wire(
            int(element.get("paymentType", "0")), int(element.get("index", "0"))
        )
    except ValueError as exc:
        raise _Rejected(f"bad payment: {exc}") from exc
    if amount <= 0:
        raise _Rejected("payments must be positive")
    return PrintedPayment(kind, element.get("description") or kind.label, amount)


class FpmateServer:
    """The emulator's HTTP listener. While the emulator's link is down it does not
    listen at all, so clients get "connection refused" like an unreachable printer."""

    def __init__(self, emulator: FpmateEmulator, host: str, port: int) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        """Start listening (and follow the emulator's link state from now on)."""
        self.emulator._servers.add(self)
        if not self.emulator.link_down:
            self._listen()
            await asyncio.sleep(0)

    def _listen(self) -> None:
        # Bind and listen synchronously, so a client connecting right after a
        # ``link=up`` waits in the backlog instead of being refused.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        task = asyncio.get_running_loop().create_task(self._serve_on(sock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_on(self, sock: socket.socket) -> None:
        try:
            server = await asyncio.start_server(self._handle, sock=sock)
        except BaseException:  # cancelled by a link=down right after link=up
            sock.close()
            raise
        if self._closed or self.emulator.link_down:
            server.close()
            return
        self._server = server

    def suspend(self) -> None:
        """Stop listening and drop every open connection (link down)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()

    def resume(self) -> None:
        """Listen again on the same port (link up)."""
        if not self._closed and self._server is None:
            self._listen()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        parser = HttpRequestParser()
        try:
            while not self.emulator.link_down:
                data = await reader.read(_CHUNK)
                if not data:
                    return
                try:
                    requests = parser.feed(data)
                except ValueError:
                    writer.write(http_response(400, b"bad request\n", close=True))
                    return
                for request in requests:
                    reply = self.emulator.handle_http(request)
                    if self.emulator.link_bps:
                        size = len(request.body) + len(reply)
                        await asyncio.sleep(size / self.emulator.link_bps)
                    if self.emulator.link_down:
                        return
                    writer.write(reply)
                    await writer.drain()
                    if request.wants_close:
                        return
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def aclose(self) -> None:
        """Stop for good; idempotent."""
        self._closed = True
        self.emulator._servers.discard(self)
        self.suspend()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> FpmateServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
