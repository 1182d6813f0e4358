"""``usb://VID:PID?serial=X``: USB printers spoken to directly over libusb (pyusb).

Options: ``serial`` (pick one of several identical printers), ``interface`` (0),
``out_ep``/``in_ep`` (bulk endpoints, e.g. ``0x01``/``0x82``; found from the interface
descriptor when omitted), ``timeout`` (seconds a write may take, default 10) and
``read_size`` (bytes asked for per IN transfer, default 16).

Every pyusb call runs on one worker thread owned by the transport, so libusb calls for a
device never overlap and the event loop never waits on the bus. Bytes an IN transfer
returns go into a buffer from that thread, so a read abandoned by its caller loses none.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from drivers.errors import (
    ConnectFailed,
    ConnectionLost,
    InvalidURL,
    TransportError,
    TransportTimeout,
)
from drivers.transports.base import Transport
from drivers.transports.registry import seconds_option
from drivers.url import DeviceURL

__all__ = ["UsbTransport"]

logger = logging.getLogger(__name__)

_OPTIONS = {"serial", "interface", "out_ep", "in_ep", "timeout", "read_size"}
_VID_PID = re.compile(r"([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})")
# python-escpos asks for 16 bytes per IN transfer and printers are used to it; status
# answers are 1-10 bytes. Larger packets need read_size = the endpoint's wMaxPacketSize.
_DEFAULT_READ_SIZE = 16
# Extra time granted to the worker thread beyond libusb's own timeout before giving up.
_THREAD_GRACE_S = 2.0
_ENDPOINT_IN = 0x80
_BULK = 0x02
_UDEV_HINT = (
    "permission denied: add a udev rule giving this user access, e.g. "
    'SUBSYSTEM=="usb", ATTRS{idVendor}=="%04x", ATTRS{idProduct}=="%04x", '
    'MODE="0660", GROUP="lp"'
)

T = TypeVar("T")


def _endpoint_option(url: DeviceURL, key: str, want_in: bool) -> int | None:
    text = url.str_option(key)
    if text is None:
        return None
    try:
        address = int(text, 0)
    except ValueError as exc:
        raise InvalidURL(f"{url.raw!r}: {key}={text!r} is not an endpoint like 0x01") from exc
    if not 0 < address <= 0xFF or bool(address & _ENDPOINT_IN) != want_in or address & 0x70:
        direction = "IN (0x81-0x8f)" if want_in else "OUT (0x01-0x0f)"
        raise InvalidURL(f"{url.raw!r}: {key}={text} is not an {direction} endpoint address")
    return address


class UsbTransport(Transport):
    """Bulk OUT writes and bulk IN reads on one claimed interface."""

    def __init__(self, url: DeviceURL) -> None:
        super().__init__(url)
        url.check_options(_OPTIONS)
        match = _VID_PID.fullmatch(url.netloc)
        if match is None or url.path not in ("", "/"):
            raise InvalidURL(
                f"{url.raw!r}: expected usb://VID:PID with hex ids, e.g. usb://04b8:0e15"
            )
        self.vendor_id = int(match[1], 16)
        self.product_id = int(match[2], 16)
        self.serial = url.str_option("serial")
        if self.serial == "":
            raise InvalidURL(f"{url.raw!r}: serial= is empty")
        self.interface = url.int_option("interface", 0)
        if self.interface < 0:
            raise InvalidURL(f"{url.raw!r}: interface={self.interface} must be 0 or more")
        self.out_ep = _endpoint_option(url, "out_ep", want_in=False)
        self.in_ep = _endpoint_option(url, "in_ep", want_in=True)
        self.timeout = seconds_option(url, "timeout", 10.0)
        self.read_size = url.int_option("read_size", _DEFAULT_READ_SIZE)
        if not 1 <= self.read_size <= 65536:
            raise InvalidURL(f"{url.raw!r}: read_size={self.read_size} must be 1..65536")
        self._device: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._rx = bytearray()
        self._rx_lock = threading.Lock()

    @property
    def ids(self) -> str:
        """``04b8:0e15`` for messages."""
        return f"{self.vendor_id:04x}:{self.product_id:04x}"

    # -- worker-thread plumbing ------------------------------------------------------------
    async def _call(self, func: Callable[[], T], limit: float) -> T:
        if self._executor is None:
            raise ConnectionLost(f"usb {self.ids}: not open")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(limit + _THREAD_GRACE_S):
                return await loop.run_in_executor(self._executor, func)
        except TimeoutError as exc:
            raise TransportTimeout(f"usb {self.ids}: libusb did not return in time") from exc

    def _translate(self, exc: Exception, action: str, *, opening: bool) -> TransportError:
        import usb.core

        if isinstance(exc, usb.core.USBTimeoutError):
            return TransportTimeout(f"usb {self.ids}: {action} timed out")
        code = getattr(exc, "errno", None)
        if opening:
            # Only while opening can nothing have been sent. Once the link is up, any
            # failure may follow bytes already at the printer: ConnectionLost, so a job
            # is reported in doubt rather than sent again.
            if code == errno.EACCES:
                return ConnectFailed(
                    f"usb {self.ids}: {_UDEV_HINT % (self.vendor_id, self.product_id)}"
                )
            if code == errno.EBUSY:
                return ConnectFailed(
                    f"usb {self.ids}: interface {self.interface} is busy "
                    "(claimed by another program, e.g. a CUPS backend)"
                )
            return ConnectFailed(f"usb {self.ids}: {action} failed: {exc}")
        if code == errno.ENODEV:
            return ConnectionLost(f"usb {self.ids}: device unplugged during {action}")
        return ConnectionLost(f"usb {self.ids}: {action} failed: {exc}")

    # -- open ------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._device is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"usb-{self.ids}")
        try:
            self._device = await self._call(self._open_device, self.timeout)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _open_device(self) -> Any:
        import usb.core
        import usb.util

        try:
            device = self._find(usb.core)
            self._detach_kernel_driver(device)
            self._configure(device, usb.core)
            usb.util.claim_interface(device, self.interface)
            self._pick_endpoints(device, usb.util)
        except usb.core.NoBackendError as exc:
            raise ConnectFailed(
                f"usb {self.ids}: no libusb backend found (install libusb-1.0)"
            ) from exc
        except usb.core.USBError as exc:
            raise self._translate(exc, "opening", opening=True) from exc
        return device

    def _find(self, core: Any) -> Any:
        candidates = list(
            core.find(find_all=True, idVendor=self.vendor_id, idProduct=self.product_id)
        )
        if not candidates:
            raise ConnectFailed(f"usb {self.ids}: no such device attached")
        if self.serial is None:
            return candidates[0]
        seen = []
        for device in candidates:
            try:
                serial = device.serial_number
            except (ValueError, core.USBError) as exc:
                # pyusb raises ValueError when string descriptors cannot be read, which
                # is usually missing permissions.
                seen.append(f"unreadable ({exc})")
                continue
            if serial == self.serial:
                return device
            seen.append(repr(serial))
        raise ConnectFailed(
            f"usb {self.ids}: no device with serial {self.serial!r} (found: {', '.join(seen)})"
        )

    def _detach_kernel_driver(self, device: Any) -> None:
        try:
            active = device.is_kernel_driver_active(self.interface)
        except NotImplementedError:  # backends without the concept
            return
        if active:
            logger.warning(
                "detaching kernel driver %s from %s so it can be claimed over libusb",
                self._kernel_driver_name(device),
                self.ids,
            )
            device.detach_kernel_driver(self.interface)

    def _kernel_driver_name(self, device: Any) -> str:
        """The bound driver (usually ``usblp``) as sysfs names it, for the log."""
        try:
            ports = ".".join(str(port) for port in device.port_numbers)
            config = device.get_active_configuration().bConfigurationValue
            link = Path(f"/sys/bus/usb/devices/{device.bus}-{ports}:{config}.{self.interface}")
            return (link / "driver").resolve(strict=True).name
        except Exception:  # noqa: BLE001 - only decorates a log line
            return "(unknown)"

    def _configure(self, device: Any, core: Any) -> None:
        try:
            configured = device.get_active_configuration() is not None
        except core.USBError:
            configured = False
        if configured:
            return
        try:
            device.set_configuration()
        except core.USBError as exc:
            if exc.errno in (errno.EACCES, errno.ENODEV):
                raise
            # Devices that are already configured (and umockdev's emulated ones) may
            # refuse SET_CONFIGURATION; python-escpos tolerates the same error.
            logger.debug("usb %s: could not set configuration: %s", self.ids, exc)

    def _pick_endpoints(self, device: Any, util: Any) -> None:
        try:
            config = device.get_active_configuration()
        except Exception:  # noqa: BLE001 - fall back to the first configuration below
            config = None
        if config is None:
            config = device[0]
        try:
            interface = config[(self.interface, 0)]
        except (IndexError, KeyError) as exc:
            raise ConnectFailed(f"usb {self.ids}: no interface {self.interface}") from exc

        def bulk(want_in: bool) -> int | None:
            for endpoint in interface:
                if (
                    util.endpoint_type(endpoint.bmAttributes) == _BULK
                    and bool(endpoint.bEndpointAddress & _ENDPOINT_IN) == want_in
                ):
                    address: int = endpoint.bEndpointAddress
                    return address
            return None

        if self.out_ep is None:
            self.out_ep = bulk(want_in=False)
            if self.out_ep is None:
                raise ConnectFailed(
                    f"usb {self.ids}: interface {self.interface} has no bulk OUT endpoint"
                )
        if self.in_ep is None:
            # Some printers are write-only; reads then simply time out.
            self.in_ep = bulk(want_in=True)

    # -- traffic ---------------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        device = self._live()
        await self._call(lambda: self._write_all(device, data), self.timeout)

    def _write_all(self, device: Any, data: bytes) -> None:
        import usb.core

        view = memoryview(data)
        try:
            while view:
                sent = device.write(self.out_ep, view, timeout=_ms(self.timeout))
                view = view[sent:]
        except usb.core.USBError as exc:
            raise self._translate(exc, "write", opening=False) from exc

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109 - the Transport interface
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        device = self._live()
        if not self._rx and self.in_ep is not None:
            try:
                await self._call(lambda: self._fill(device, timeout), timeout)
            except TransportTimeout:
                return b""
        elif not self._rx:
            await asyncio.sleep(timeout)
        with self._rx_lock:
            chunk = bytes(self._rx[:max_bytes])
            del self._rx[:max_bytes]
        return chunk

    def _fill(self, device: Any, timeout: float) -> None:
        import usb.core

        if self._rx:  # an earlier, abandoned read already brought bytes
            return
        try:
            data = device.read(self.in_ep, self.read_size, timeout=_ms(timeout))
        except usb.core.USBTimeoutError:
            return
        except usb.core.USBError as exc:
            raise self._translate(exc, "read", opening=False) from exc
        with self._rx_lock:
            self._rx += bytes(data)

    def _live(self) -> Any:
        if self._device is None:
            raise ConnectionLost(f"usb {self.ids}: not open")
        return self._device

    async def aclose(self) -> None:
        device, self._device = self._device, None
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if device is not None:
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(_THREAD_GRACE_S):
                    await loop.run_in_executor(executor, self._release, device)
            except TimeoutError:
                logger.warning("usb %s: releasing the device did not finish", self.ids)
        executor.shutdown(wait=False)

    def _release(self, device: Any) -> None:
        import usb.core
        import usb.util

        try:
            usb.util.release_interface(device, self.interface)
        except usb.core.USBError as exc:  # unplugged: nothing left to release
            logger.debug("usb %s: release failed: %s", self.ids, exc)
        usb.util.dispose_resources(device)


def _ms(seconds: float) -> int:
    # pyusb treats 0 as "wait forever"; never let a short timeout round down to it.
    return max(1, round(seconds * 1000))
