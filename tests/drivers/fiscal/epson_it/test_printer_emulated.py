"""``EpsonFiscalPrinter`` against ``FpmateEmulator`` on a real TCP port."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from drivers.errors import ConnectFailed, DeviceNotReady, EncodingError, TransportTimeout
from drivers.fiscal.epson_it import (
    EpsonFiscalPrinter,
    Exemption,
    FiscalDocumentRef,
    FiscalItem,
    FiscalPrinterError,
    FiscalPrinterNotReady,
    PaperState,
    Payment,
    PaymentKind,
)
from drivers.fiscal.epson_it.emulator import FpmateEmulator, FpmateServer

SERIAL = "99MEY012345"


class Clock:
    """The emulated printer's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = dt.datetime(2024, 9, 4, 10, 30, 15)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> FpmateEmulator:
    return FpmateEmulator({"serial": SERIAL}, clock=clock)


@pytest.fixture
async def server(emulator: FpmateEmulator) -> AsyncIterator[FpmateServer]:
    async with await emulator.serve("127.0.0.1", 0) as server:
        yield server


@pytest.fixture
def printer(server: FpmateServer) -> EpsonFiscalPrinter:
    return EpsonFiscalPrinter("127.0.0.1", server.port, serial=SERIAL, timeout=3.0)


WATER = FiscalItem("Acqua & Co <naturale>", Decimal(2), Decimal("0.75"), vat_rate=Decimal(22))
STAMP = FiscalItem("Francobollo Grüße", Decimal(1), Decimal("1.20"), exemption=Exemption.N2)


async def _sale(printer: EpsonFiscalPrinter) -> tuple[int, int]:
    result = await printer.fiscal_receipt([WATER, STAMP], [Payment(Decimal(5))])
    return result.z_number, result.number


async def test_sale_with_an_exempt_line_is_registered_and_printed(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    result = await printer.fiscal_receipt(
        [WATER, STAMP], [Payment(Decimal("2.00"), PaymentKind.CARD), Payment(Decimal(5))]
    )
    assert (result.z_number, result.number) == (1, 1)
    assert result.amount == Decimal("2.70")
    assert result.date_time == dt.datetime(2024, 9, 4, 10, 30)
    assert result.serial == SERIAL

    [document] = emulator.documents
    assert [(line.description, line.vat_label) for line in document.lines] == [
        ("Acqua & Co <naturale>", "22%"),
        ("Francobollo Grüße", "N2"),
    ]
    assert document.total == Decimal("2.70")
    text = emulator.output_text()
    stamp_line = next(line for line in text.splitlines() if "Francobollo" in line)
    assert " N2 " in stamp_line and stamp_line.endswith("1,20")
    assert "RESTO" in text and "4,30" in text
    assert "DOCUMENTO N. 0001-0001" in text


async def test_void_references_the_original(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    sale = await printer.fiscal_receipt([STAMP], [Payment(Decimal("1.20"))])
    void = await printer.void(sale.ref)
    assert (void.z_number, void.number) == (1, 2)
    assert void.amount == Decimal("1.20")
    original, annullo = emulator.documents
    assert original.voided
    assert annullo.kind == "void" and annullo.reference == sale.ref
    assert "emesso per ANNULLAMENTO" in emulator.output_text()
    assert "N.0001-0001 del 04-09-2024" in emulator.output_text()

    with pytest.raises(FiscalPrinterError, match="already voided") as twice:
        await printer.void(sale.ref)
    assert twice.value.code == "rejected"
    assert len(emulator.documents) == 2


async def test_void_of_an_unknown_document_is_refused(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    await _sale(printer)
    unknown = FiscalDocumentRef(1, 7, dt.date(2024, 9, 4), SERIAL)
    with pytest.raises(FiscalPrinterError, match="no sale N.0001-0007") as excinfo:
        await printer.void(unknown)
    assert excinfo.value.printer_code == "FP_REJECTED"
    other_printer = FiscalDocumentRef(1, 1, dt.date(2024, 9, 4), "99MEY999999")
    with pytest.raises(FiscalPrinterError, match="another printer"):
        await printer.void(other_printer)
    assert len(emulator.documents) == 1


async def test_void_listing_lines_must_match_the_original(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    sale = await printer.fiscal_receipt([WATER, STAMP], [Payment(Decimal(5))])
    with pytest.raises(FiscalPrinterError, match="do not match"):
        await printer.void(sale.ref, [STAMP])
    void = await printer.void(sale.ref, [WATER, STAMP])
    assert void.amount == Decimal("2.70")


async def test_refund_of_part_of_a_sale(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    sale = await printer.fiscal_receipt([WATER, STAMP], [Payment(Decimal(5))])
    refund = await printer.refund(sale.ref, [STAMP], [Payment(Decimal("1.20"))])
    assert refund.number == 2 and refund.amount == Decimal("1.20")
    assert "emesso per RESO MERCE" in emulator.output_text()
    with pytest.raises(FiscalPrinterError, match="exceeds"):
        await printer.refund(sale.ref, [WATER, WATER], [Payment(Decimal("3.00"))])
    with pytest.raises(FiscalPrinterError, match="refunds cannot be voided"):
        await printer.void(sale.ref)


async def test_daily_closure_increments_z_and_restarts_numbering(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator, clock: Clock
) -> None:
    assert await _sale(printer) == (1, 1)
    assert await _sale(printer) == (1, 2)
    closure = await printer.daily_closure()
    assert closure.z_number == 1
    assert closure.daily_amount == Decimal("5.40")
    assert emulator.closures[0].documents == 2

    clock.now += dt.timedelta(days=1)
    assert await _sale(printer) == (2, 1)
    second = await printer.daily_closure()
    assert (second.z_number, second.daily_amount) == (2, Decimal("2.70"))
    assert emulator.z_number == 3


async def test_paper_out_is_the_printers_error_state_and_nothing_is_registered(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    emulator.apply_faults({"paper": "out"})
    with pytest.raises(FiscalPrinterNotReady) as excinfo:
        await printer.fiscal_receipt([WATER], [Payment(Decimal(2))])
    error = excinfo.value
    assert isinstance(error, DeviceNotReady)
    assert (error.code, error.printer_code) == ("paper_out", "EPTR_REC_EMPTY")
    assert error.status is not None and not error.status.online
    assert error.status.paper is PaperState.OUT
    assert emulator.documents == []

    status = await printer.status()
    assert not status.online and status.paper is PaperState.OUT
    assert status.error_code == "paper_out"

    with pytest.raises(FiscalPrinterNotReady):
        await printer.daily_closure()
    assert emulator.closures == []

    emulator.apply_faults({"paper": "ok"})
    assert (await printer.status()).paper is PaperState.OK
    assert await _sale(printer) == (1, 1)


async def test_cover_open(printer: EpsonFiscalPrinter, emulator: FpmateEmulator) -> None:
    emulator.apply_faults({"cover": "open"})
    with pytest.raises(FiscalPrinterNotReady) as excinfo:
        await _sale(printer)
    assert (excinfo.value.code, excinfo.value.printer_code) == ("cover_open", "EPTR_COVER_OPEN")
    status = await printer.status()
    assert status.cover_open is True and status.error_code == "cover_open"
    assert emulator.documents == []
    emulator.apply_faults({"cover": "closed"})
    status = await printer.status()
    assert status.online and status.cover_open is False and status.error_code is None


async def test_status_of_a_healthy_printer_and_near_end(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    status = await printer.status()
    assert status.online and status.paper is PaperState.OK and status.error is None
    assert status.details["cpuRel"] == "07.00"
    emulator.apply_faults({"paper": "near_end"})
    status = await printer.status()
    assert status.online and status.paper is PaperState.NEAR_END
    assert await _sale(printer) == (1, 1)  # near end still prints


async def test_payments_must_cover_the_total(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator
) -> None:
    with pytest.raises(EncodingError, match="do not cover"):
        await printer.fiscal_receipt([WATER], [Payment(Decimal(1))])
    with pytest.raises(FiscalPrinterError, match="change can only be given from cash"):
        await printer.fiscal_receipt([WATER], [Payment(Decimal(5), PaymentKind.CARD)])
    assert emulator.documents == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_printer_is_connect_failed_within_the_timeout() -> None:
    printer = EpsonFiscalPrinter("127.0.0.1", _free_port(), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ConnectFailed):
        await printer.fiscal_receipt([WATER], [Payment(Decimal(2))])
    assert time.monotonic() - started < 1.0


async def test_link_down_refuses_connections_until_it_is_up(
    printer: EpsonFiscalPrinter, emulator: FpmateEmulator, server: FpmateServer
) -> None:
    port = server.port
    emulator.apply_faults({"link": "down"})
    with pytest.raises(ConnectFailed):
        await printer.status()
    with pytest.raises(ConnectFailed):
        await _sale(printer)
    assert emulator.documents == []
    emulator.apply_faults({"link": "up"})
    assert server.port == port
    assert await _sale(printer) == (1, 1)


async def test_slow_link_delays_answers_past_a_short_timeout(
    server: FpmateServer, emulator: FpmateEmulator
) -> None:
    emulator.apply_faults({"link": "slow"})
    impatient = EpsonFiscalPrinter("127.0.0.1", server.port, serial=SERIAL, timeout=0.3)
    with pytest.raises(TransportTimeout):
        await impatient.fiscal_receipt([WATER], [Payment(Decimal(2))])
    # The printer did register it: a timeout after sending leaves the sale in doubt.
    await asyncio.sleep(0)
    assert len(emulator.documents) == 1
    patient = EpsonFiscalPrinter("127.0.0.1", server.port, serial=SERIAL, timeout=10)
    started = time.monotonic()
    assert (await patient.status()).online
    assert time.monotonic() - started > 0.3
