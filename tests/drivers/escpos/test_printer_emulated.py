"""ReceiptPrinter and ReceiptEncoder against the ESC/POS emulator over ``emu://``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from drivers.emulation import EmulatorHub
from drivers.escpos.emulator import EscposEmulator
from drivers.escpos.encoder import Align, ReceiptEncoder, Symbology
from drivers.escpos.printer import ReceiptPrinter
from drivers.escpos.profiles import load_profile
from drivers.escpos.status import PaperState
from drivers.transports.emu import EmuTransport
from drivers.url import DeviceURL


@pytest.fixture
async def rig() -> AsyncIterator[tuple[ReceiptPrinter, EscposEmulator]]:
    transport = EmuTransport(
        DeviceURL.parse("emu://escpos/receipt-1?profile=TM-T88V"), emulators=EmulatorHub()
    )
    emulator = transport.emulator
    assert isinstance(emulator, EscposEmulator)
    await transport.open()
    printer = ReceiptPrinter(transport, load_profile("TM-T88V"), status_timeout=0.5)
    yield printer, emulator
    await printer.aclose()


async def test_status_follows_faults(rig: tuple[ReceiptPrinter, EscposEmulator]) -> None:
    printer, emulator = rig
    assert (await printer.status()).blocking_reason is None
    emulator.apply_device_fault("paper", "near_end")
    status = await printer.status()
    assert status.paper is PaperState.NEAR_END and status.warnings == ["paper_near_end"]
    emulator.apply_device_fault("paper", "out")
    assert (await printer.status()).blocking_reason == "paper_out"


async def test_asb_messages_are_kept(rig: tuple[ReceiptPrinter, EscposEmulator]) -> None:
    printer, emulator = rig
    await printer.enable_asb()
    assert printer.asb_enabled and printer.last_asb is not None
    emulator.apply_device_fault("cover", "open")  # the printer announces it on its own
    status = await printer.status()
    assert status.cover_open
    assert printer.last_asb.cover_open


async def test_identify(rig: tuple[ReceiptPrinter, EscposEmulator]) -> None:
    printer, _ = rig
    identity = await printer.identify()
    assert identity.get("maker") == "EPSON"
    assert identity.get("model") == "TM-T88V"


async def test_receipt_comes_out(rig: tuple[ReceiptPrinter, EscposEmulator]) -> None:
    printer, emulator = rig
    enc = ReceiptEncoder(printer.profile)
    enc.text("Grüße aus Wien", bold=True, align=Align.CENTER)
    enc.text("2 x Shirt € 49,00")
    enc.barcode("ORDER-12345", Symbology.CODE128)
    enc.qr("https://example.com/r/12345")
    enc.cut()
    await printer.write(enc.getvalue())
    await printer.kick_drawer()
    text = emulator.output_text()
    assert "Grüße aus Wien" in text
    assert "€ 49,00" in text
    assert "ORDER-12345" in text
    assert emulator.cuts == 1 and len(emulator.drawer_pulses) == 1
    assert emulator.unknown_commands == []


class _CountingTransport(EmuTransport):
    """The emu transport, remembering every write (to see which questions were asked)."""

    writes: list[bytes]

    async def write(self, data: bytes) -> None:
        self.writes.append(data)
        await super().write(data)


async def test_pushed_status_needs_no_round_trip() -> None:
    transport = _CountingTransport(
        DeviceURL.parse("emu://escpos/receipt-1?profile=TM-T88V"), emulators=EmulatorHub()
    )
    transport.writes = []
    emulator = transport.emulator
    await transport.open()
    printer = ReceiptPrinter(transport, load_profile("TM-T88V"), status_timeout=0.5)
    try:
        await printer.enable_asb()
        assert printer.asb_enabled
        transport.writes.clear()
        assert (await printer.latest_status()).blocking_reason is None
        emulator.apply_faults({"cover": "open"})
        assert (await printer.latest_status()).blocking_reason == "cover_open"
        emulator.apply_faults({"cover": "closed", "paper": "out"})
        assert (await printer.latest_status()).blocking_reason == "paper_out"
        assert transport.writes == []  # every answer came from what the printer pushed
    finally:
        await printer.aclose()


async def test_without_pushed_status_latest_status_asks(
    rig: tuple[ReceiptPrinter, EscposEmulator],
) -> None:
    printer, emulator = rig
    emulator.apply_faults({"cover": "open"})
    assert not printer.asb_enabled
    assert (await printer.latest_status()).blocking_reason == "cover_open"
