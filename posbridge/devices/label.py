"""A ZPL label printer (hang tags) as the daemon sees it."""

from __future__ import annotations

from drivers.emulation import EmulatorHub
from drivers.transports.base import Transport
from drivers.zpl.media import Media
from drivers.zpl.printer import LabelPrinter
from drivers.zpl.status import LabelStatus
from posbridge.config import DeviceConfig, DeviceKind
from posbridge.devices.base import LinkedDevice
from posbridge.events import EventBus

__all__ = ["LabelPrinterDevice"]


class LabelPrinterDevice(LinkedDevice[LabelPrinter, LabelStatus]):
    kind = DeviceKind.LABEL_PRINTER

    def __init__(self, config: DeviceConfig, events: EventBus, emulators: EmulatorHub) -> None:
        super().__init__(config, events, emulators)
        self.media: Media = config.label_media()

    def capabilities(self) -> dict[str, object]:
        return {"language": "zpl", **self.media.describe()}

    def status_to_public(self, status: LabelStatus) -> dict[str, object]:
        return {
            "media_out": status.media_out,
            "head_open": status.head_open,
            "paused": status.paused,
            "ribbon_out": status.ribbon_out,
            "buffer_full": status.buffer_full,
            "formats_in_buffer": status.formats_in_buffer,
            "labels_remaining": status.labels_remaining,
            "blocking_reason": status.blocking_reason,
            "warnings": status.warnings,
            "raw": status.raw.decode("latin-1"),
        }

    async def _open_driver(self, transport: Transport) -> LabelPrinter:
        printer = LabelPrinter(transport, self.media)
        await printer.setup()
        return printer

    async def _ask_status(self, driver: LabelPrinter, *, pushed: bool) -> LabelStatus:
        return await driver.status()
