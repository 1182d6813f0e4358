"""An ESC/POS receipt printer (and the drawer on its kick port) as the daemon sees it."""

from __future__ import annotations

from drivers.emulation import EmulatorHub
from drivers.escpos.printer import ReceiptPrinter
from drivers.escpos.profiles import PrinterProfile
from drivers.escpos.status import PrinterStatus
from drivers.transports.base import Transport
from posbridge.config import DeviceConfig, DeviceKind
from posbridge.devices.base import LinkedDevice
from posbridge.events import EventBus

__all__ = ["ReceiptPrinterDevice"]


class ReceiptPrinterDevice(LinkedDevice[ReceiptPrinter, PrinterStatus]):
    kind = DeviceKind.RECEIPT_PRINTER

    def __init__(
        self,
        config: DeviceConfig,
        profile: PrinterProfile,
        events: EventBus,
        emulators: EmulatorHub,
    ) -> None:
        super().__init__(config, events, emulators)
        self.profile = profile

    def capabilities(self) -> dict[str, object]:
        return {
            "columns": self.profile.columns_a,
            "columns_font_b": self.profile.columns_b,
            "width_px": self.profile.width_px,
            "qr_native": self.profile.qr_native,
            "cut": self.profile.paper_cut,
            "drawer_pins": list(self.profile.drawer_pins),
            "profile": self.profile.name,
        }

    def status_to_public(self, status: PrinterStatus) -> dict[str, object]:
        return {
            "online": status.online,
            "paper": status.paper.value,
            "cover_open": status.cover_open,
            "drawer_open": status.drawer_open(self.config.drawer_open_when_high),
            "error": status.error.value,
            "blocking_reason": status.blocking_reason,
            "warnings": status.warnings,
            "raw": status.raw.hex(),
        }

    async def _open_driver(self, transport: Transport) -> ReceiptPrinter:
        printer = ReceiptPrinter(
            transport, self.profile, drawer_open_when_high=self.config.drawer_open_when_high
        )
        if self.config.status_push:
            await printer.enable_asb()
        return printer

    async def _ask_status(self, driver: ReceiptPrinter, *, pushed: bool) -> PrinterStatus:
        return await (driver.latest_status() if pushed else driver.status())

    @property
    def pushes_status(self) -> bool:
        """Whether the printer reports status changes by itself (automatic status back)."""
        return self._driver is not None and self._driver.asb_enabled
