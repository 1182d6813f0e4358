"""The device manager: builds devices from config, keeps their links up, watches status."""

from __future__ import annotations

import asyncio

from drivers.emulation import EmulatorHub
from drivers.escpos.profiles import load_profile
from posbridge._tasks import cancel_and_wait
from posbridge.config import DeviceConfig, DeviceKind
from posbridge.devices.base import DeviceState, DeviceStatus, LinkedDevice
from posbridge.devices.label import LabelPrinterDevice
from posbridge.devices.receipt import ReceiptPrinterDevice
from posbridge.devices.scanner import Classifier, ScannerDevice
from posbridge.events import EventBus

__all__ = [
    "Device",
    "DeviceManager",
    "DeviceState",
    "DeviceStatus",
    "LabelPrinterDevice",
    "LinkedDevice",
    "PrinterDevice",
    "ReceiptPrinterDevice",
    "ScannerDevice",
]

PrinterDevice = ReceiptPrinterDevice | LabelPrinterDevice
"""A device that takes print jobs (and so has a job worker)."""
Device = PrinterDevice | ScannerDevice


class DeviceManager:
    """Owns every configured device and its status monitor."""

    def __init__(
        self,
        configs: list[DeviceConfig],
        events: EventBus,
        classify: Classifier | None = None,
    ) -> None:
        self.emulators = EmulatorHub()
        self.events = events
        self.classify = classify
        self.devices: dict[str, Device] = {}
        self._tasks: list[asyncio.Task[None]] = []
        for config in configs:
            self.devices[config.id] = self._build(config)

    def _build(self, config: DeviceConfig) -> Device:
        # Config validation admits only the kinds built here (SUPPORTED_KINDS).
        if config.kind is DeviceKind.LABEL_PRINTER:
            return LabelPrinterDevice(config, self.events, self.emulators)
        if config.kind is DeviceKind.SCANNER:
            if self.classify is None:
                raise ValueError("scanners need a classifier")
            return ScannerDevice(config, self.events, self.emulators, self.classify)
        return ReceiptPrinterDevice(
            config, load_profile(config.profile), self.events, self.emulators
        )

    def get(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def printers(self) -> dict[str, PrinterDevice]:
        """The devices that take print jobs."""
        return {
            device_id: device
            for device_id, device in self.devices.items()
            if not isinstance(device, ScannerDevice)
        }

    def start(self) -> None:
        for device in self.devices.values():
            task = asyncio.create_task(device.monitor(), name=f"monitor:{device.id}")
            self._tasks.append(task)

    async def aclose(self) -> None:
        await cancel_and_wait(self._tasks)
        for device in self.devices.values():
            await device.aclose()
