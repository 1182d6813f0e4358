"""What every device has: a link that is kept up with backoff, a lock, status, events.

Each device has one lock: the job worker and the status monitor take turns on the link,
so a status reply is never read by the wrong party. A lost link is closed and reopened
with backoff; every change of state or status is published on the event bus. The
device kinds (``receipt.py``, ``label.py``) say how to open their driver, how to ask for
status and how to show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from drivers.emulation import Emulator, EmulatorHub
from drivers.errors import DeviceError, TransportError
from drivers.transports import open_transport
from drivers.transports.base import Transport
from drivers.url import DeviceURL
from posbridge.config import DeviceConfig, DeviceKind
from posbridge.events import EventBus

__all__ = ["BACKOFF_START_S", "DeviceState", "DeviceStatus", "Driver", "LinkedDevice"]

BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 10.0
PUSHED_STATUS_CHECK_S = 0.25


class DeviceState(enum.StrEnum):
    CONNECTING = "connecting"
    READY = "ready"
    ATTENTION = "attention"  # reachable, but cannot print: paper out, cover open, offline
    DISCONNECTED = "disconnected"


class DeviceStatus(Protocol):
    """What the daemon needs of any printer's status."""

    @property
    def blocking_reason(self) -> str | None: ...

    @property
    def warnings(self) -> list[str]: ...


class Driver(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def aclose(self) -> None: ...


StatusT = TypeVar("StatusT", bound=DeviceStatus)
DriverT = TypeVar("DriverT", bound=Driver)


def emulator_name(url: DeviceURL) -> str:
    """``emu://escpos/receipt-1`` → ``receipt-1``; the emu transport names it the same way."""
    return url.path.strip("/") or url.host


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


class LinkedDevice(ABC, Generic[DriverT, StatusT]):
    """A configured device, its driver while connected, and its last known status."""

    kind: DeviceKind

    def __init__(self, config: DeviceConfig, events: EventBus, emulators: EmulatorHub) -> None:
        self.config = config
        self.events = events
        self.emulators = emulators
        self.state = DeviceState.CONNECTING
        self.status: StatusT | None = None
        self.last_error: str | None = None
        self.lock = asyncio.Lock()
        self.changed = asyncio.Event()
        self._driver: DriverT | None = None
        self._backoff = _Backoff()
        self.url = DeviceURL.parse(config.url)
        if self.url.scheme == "emu":
            # Create the emulator now so its output exists before the first job.
            self.emulators.get_or_create(self.url.host, emulator_name(self.url), self.url.options)

    @property
    def id(self) -> str:
        return self.config.id

    def emulator(self) -> Emulator | None:
        """The in-process emulator behind an ``emu://`` device, else None."""
        if self.url.scheme != "emu":
            return None
        return self.emulators.get(emulator_name(self.url))

    # -- what each kind says ----------------------------------------------------------
    @abstractmethod
    def capabilities(self) -> dict[str, object]: ...

    @abstractmethod
    def status_to_public(self, status: StatusT) -> dict[str, object]: ...

    @abstractmethod
    async def _open_driver(self, transport: Transport) -> DriverT:
        """Wrap a fresh transport in the driver and prepare the device (may raise)."""

    @abstractmethod
    async def _ask_status(self, driver: DriverT, *, pushed: bool) -> StatusT: ...

    @property
    def pushes_status(self) -> bool:
        """Whether the device reports status changes by itself."""
        return False

    def to_public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.config.name or self.id,
            "url": self.config.url,
            "emulated": self.url.scheme == "emu",
            "state": self.state.value,
            "status": self.status_to_public(self.status) if self.status else None,
            "last_error": self.last_error,
            "capabilities": self.capabilities(),
        }

    # -- link ----------------------------------------------------------------------------
    async def _connected(self) -> DriverT:
        if self._driver is not None:
            return self._driver
        wait = self._backoff.remaining()
        if wait:
            await asyncio.sleep(wait)
        try:
            transport = await open_transport(self.url, emulators=self.emulators)
        except TransportError as exc:
            self._backoff.failed()
            self._set(DeviceState.DISCONNECTED, self.status, str(exc))
            raise
        try:
            self._driver = await self._open_driver(transport)
        except DeviceError as exc:
            with contextlib.suppress(DeviceError, OSError):
                await transport.aclose()
            self._backoff.failed()
            self._set(DeviceState.DISCONNECTED, self.status, str(exc))
            raise
        self._backoff.succeeded()
        return self._driver

    async def _drop_link(self, exc: DeviceError) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            with contextlib.suppress(DeviceError, OSError):
                await driver.aclose()
        self._backoff.failed()
        self._set(DeviceState.DISCONNECTED, self.status, str(exc))

    def _set(self, state: DeviceState, status: StatusT | None, error: str | None) -> None:
        before = (self.state, self.status, self.last_error)
        self.state, self.status, self.last_error = state, status, error
        if before != (state, status, error):
            self.changed.set()
            self.changed = asyncio.Event()
            self.events.publish("device.status", self.id, self.to_public())

    # -- operations (callers hold ``lock``) ---------------------------------------------
    async def refresh_status(self) -> StatusT:
        """Ask the device for its status; raises TransportError when it cannot be reached."""
        return await self._status(pushed=False)

    async def current_status(self) -> StatusT:
        """The status now: what the device pushed when it pushes, else asked for."""
        return await self._status(pushed=True)

    async def _status(self, *, pushed: bool) -> StatusT:
        driver = await self._connected()
        try:
            status = await self._ask_status(driver, pushed=pushed)
        except DeviceError as exc:
            await self._drop_link(exc)
            raise
        state = DeviceState.ATTENTION if status.blocking_reason else DeviceState.READY
        self._set(state, status, None)
        return status

    async def write(self, payload: bytes) -> None:
        driver = await self._connected()
        try:
            await driver.write(payload)
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
        alive), and in between, often, whatever a status-pushing device sent."""
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
        driver, self._driver = self._driver, None
        if driver is not None:
            with contextlib.suppress(DeviceError, OSError):
                await driver.aclose()
