"""The device manager: builds devices from config, keeps their links up, watches status.

Each device has one lock: the job worker and the status monitor take turns on the link,
so a status reply is never read by the wrong party. A lost link is closed and reopened
with backoff; every change of state or status is published on the event bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from dataclasses import dataclass, field

from drivers.emulation import Emulator, EmulatorHub
from drivers.errors import DeviceError, TransportError
from drivers.escpos.printer import ReceiptPrinter
from drivers.escpos.profiles import PrinterProfile, load_profile
from drivers.escpos.status import PrinterStatus
from drivers.transports import open_transport
from drivers.url import DeviceURL
from posbridge._tasks import cancel_and_wait
from posbridge.config import DeviceConfig, DeviceKind
from posbridge.events import EventBus

__all__ = ["DeviceManager", "DeviceState", "ReceiptPrinterDevice"]

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 10.0
PUSHED_STATUS_CHECK_S = 0.25


class DeviceState(enum.StrEnum):
    CONNECTING = "connecting"
    READY = "ready"
    ATTENTION = "attention"  # reachable, but cannot print: paper out, cover open, offline
    DISCONNECTED = "disconnected"


def _emulator_name(url: DeviceURL) -> str:
    """``emu://escpos/receipt-1`` → ``receipt-1``; the emu transport names it the same way."""
    return url.path.strip("/") or url.host


def status_to_public(status: PrinterStatus, drawer_open_when_high: bool) -> dict[str, object]:
    return {
        "online": status.online,
        "paper": status.paper.value,
        "cover_open": status.cover_open,
        "drawer_open": status.drawer_open(drawer_open_when_high),
        "error": status.error.value,
        "blocking_reason": status.blocking_reason,
        "warnings": status.warnings,
        "raw": status.raw.hex(),
    }


@dataclass
class _Backoff:
    delay: float = BACKOFF_START_S
    not_before: float = 0.0

    def failed(self) -> None:
        self.not_before = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, BACKOFF_MAX_S)

    def succeeded(self) -> None:
        self.delay = BACKOFF_START_S
        self.not_before = 0.0

    def remaining(self) -> float:
        return max(0.0, self.not_before - time.monotonic())


@dataclass
class ReceiptPrinterDevice:
    """An ESC/POS receipt printer (and the drawer on its kick port) as the daemon sees it."""

    config: DeviceConfig
    profile: PrinterProfile
    events: EventBus
    emulators: EmulatorHub
    state: DeviceState = DeviceState.CONNECTING
    status: PrinterStatus | None = None
    last_error: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _printer: ReceiptPrinter | None = None
    _backoff: _Backoff = field(default_factory=_Backoff)
    url: DeviceURL = field(init=False)

    kind = DeviceKind.RECEIPT_PRINTER

    def __post_init__(self) -> None:
        self.url = DeviceURL.parse(self.config.url)
        if self.url.scheme == "emu":
            # Create the emulator now so its output exists before the first job.
            self.emulators.get_or_create(self.url.host, _emulator_name(self.url), self.url.options)

    @property
    def id(self) -> str:
        return self.config.id

    def emulator(self) -> Emulator | None:
        """The in-process emulator behind an ``emu://`` device, else None."""
        if self.url.scheme != "emu":
            return None
        return self.emulators.get(_emulator_name(self.url))

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

    def to_public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.config.name or self.id,
            "url": self.config.url,
            "emulated": self.url.scheme == "emu",
            "state": self.state.value,
            "status": (
                status_to_public(self.status, self.config.drawer_open_when_high)
                if self.status
                else None
            ),
            "last_error": self.last_error,
            "capabilities": self.capabilities(),
        }

    # -- link ----------------------------------------------------------------------------
    async def _connected(self) -> ReceiptPrinter:
        if self._printer is not None:
            return self._printer
        wait = self._backoff.remaining()
        if wait:
            await asyncio.sleep(wait)
        try:
            transport = await open_transport(self.url, emulators=self.emulators)
        except TransportError as exc:
            self._backoff.failed()
            self._set(DeviceState.DISCONNECTED, self.status, str(exc))
            raise
        printer = ReceiptPrinter(
            transport,
            self.profile,
            drawer_open_when_high=self.config.drawer_open_when_high,
        )
        self._printer = printer
        if self.config.status_push:
            try:
                await printer.enable_asb()
            except DeviceError as exc:
                await self._drop_link(exc)
                raise
        self._backoff.succeeded()
        return printer

    @property
    def pushes_status(self) -> bool:
        """Whether the printer reports status changes by itself (automatic status back)."""
        return self._printer is not None and self._printer.asb_enabled

    async def _drop_link(self, exc: DeviceError) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            with contextlib.suppress(DeviceError, OSError):
                await printer.aclose()
        self._backoff.failed()
        self._set(DeviceState.DISCONNECTED, self.status, str(exc))

    def _set(self, state: DeviceState, status: PrinterStatus | None, error: str | None) -> None:
        before = (self.state, self.status, self.last_error)
        self.state, self.status, self.last_error = state, status, error
        if before != (state, status, error):
            self.changed.set()
            self.changed = asyncio.Event()
            self.events.publish("device.status", self.id, self.to_public())

    # -- operations (callers hold ``lock``) ---------------------------------------------
    async def refresh_status(self) -> PrinterStatus:
        """Ask the printer for its status; raises TransportError when it cannot be reached."""
        return await self._status(pushed=False)

    async def current_status(self) -> PrinterStatus:
        """The status now: what the printer pushed when it pushes, else asked for."""
        return await self._status(pushed=True)

    async def _status(self, *, pushed: bool) -> PrinterStatus:
        printer = await self._connected()
        try:
            status = await (printer.latest_status() if pushed else printer.status())
        except DeviceError as exc:
            await self._drop_link(exc)
            raise
        state = DeviceState.ATTENTION if status.blocking_reason else DeviceState.READY
        self._set(state, status, None)
        return status

    async def write(self, payload: bytes) -> None:
        printer = await self._connected()
        try:
            await printer.write(payload)
        except DeviceError as exc:
            await self._drop_link(exc)
            raise

    async def wait_changed(self, timeout: float) -> None:  # noqa: ASYNC109
        """Sleep until the status changes or ``timeout`` passes."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.changed.wait()

    async def monitor(self) -> None:
        """Watch status while idle so the API and events show the truth before a job needs
        it: a full status poll every ``status_interval_s`` (which also proves the link is
        alive), and in between, often, whatever a status-pushing printer sent."""
        loop = asyncio.get_running_loop()
        next_poll = 0.0
        while True:
            if not self.lock.locked():
                async with self.lock:
                    with contextlib.suppress(DeviceError):
                        if loop.time() >= next_poll or not self.pushes_status:
                            await self.refresh_status()
                            next_poll = loop.time() + self.config.status_interval_s
                        else:
                            await self.current_status()
            if self.state is DeviceState.DISCONNECTED:
                pause = max(self._backoff.remaining(), BACKOFF_START_S)
            elif self.pushes_status:
                pause = min(self.config.status_interval_s, PUSHED_STATUS_CHECK_S)
            else:
                pause = self.config.status_interval_s
            await asyncio.sleep(pause)

    async def aclose(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            with contextlib.suppress(DeviceError, OSError):
                await printer.aclose()


Device = ReceiptPrinterDevice


class DeviceManager:
    """Owns every configured device and its status monitor."""

    def __init__(self, configs: list[DeviceConfig], events: EventBus) -> None:
        self.emulators = EmulatorHub()
        self.events = events
        self.devices: dict[str, Device] = {}
        self._tasks: list[asyncio.Task[None]] = []
        for config in configs:
            # Config validation admits receipt printers only (SUPPORTED_KINDS).
            self.devices[config.id] = ReceiptPrinterDevice(
                config=config,
                profile=load_profile(config.profile),
                events=events,
                emulators=self.emulators,
            )

    def get(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def start(self) -> None:
        for device in self.devices.values():
            task = asyncio.create_task(device.monitor(), name=f"monitor:{device.id}")
            self._tasks.append(task)

    async def aclose(self) -> None:
        await cancel_and_wait(self._tasks)
        for device in self.devices.values():
            await device.aclose()
