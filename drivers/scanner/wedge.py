"""Keyboard-wedge barcode scanners: a USB HID keyboard at ``/dev/input/eventN``.

The scanner types each scan as key presses. We read the evdev node ourselves rather
than through python-evdev: all we need is ``open`` + one ``EVIOCGRAB`` ioctl + reading
fixed-size ``struct input_event`` records from a non-blocking fd, which the event loop
watches (``loop.add_reader``); no compiled extension to build on the store box, and
under umockdev the fixture needs no capability ioctls (python-evdev queries a dozen on
open). The device is grabbed so scans never leak into other programs as typing.

A scan ends with Enter (or keypad Enter; Tab too if configured) or, for scanners set up
without a terminator, when no key comes for ``gap_s``. Pauses are measured on the
kernel's event timestamps, so a busy event loop cannot split or join scans.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import fcntl
import os
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import ConnectFailed, ConnectionLost
from drivers.scanner.keymaps import KEY_ENTER, KEY_KPENTER, KEY_TAB, KeyDecoder, layout
from drivers.scanner.reader import ScanReader
from drivers.scanner.scan import Scan, build_scan
from drivers.transports._fd import wait_fd

__all__ = [
    "InputDeviceInfo",
    "KeyEvent",
    "Terminator",
    "WedgeAssembler",
    "WedgeScanner",
    "find_wedge_scanners",
]

EV_KEY = 1
# struct input_event: struct timeval (two longs), __u16 type, __u16 code, __s32 value.
_EVENT = struct.Struct("@llHHi")
# _IOW('E', 0x90, int): grab (1) or release (0) the device for this fd only.
EVIOCGRAB = 0x40044590
_READ_EVENTS = 64


class Terminator(enum.StrEnum):
    """Which key ends a scan (a pause of ``gap_s`` always does)."""

    ENTER = "enter"  # Enter or keypad Enter; a Tab is data ("\t")
    TAB = "tab"  # Tab; an Enter types nothing
    ENTER_OR_TAB = "enter_or_tab"


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """One EV_KEY event: kernel timestamp in seconds, key code, 1 press/2 repeat/0 release."""

    time: float
    code: int
    value: int


class WedgeAssembler:
    """Turns key events into scan texts (no I/O: fed by ``WedgeScanner`` and tests).

    :meth:`feed` returns the texts that event completed; :meth:`flush` ends the scan
    in progress when the caller saw no event for ``gap_s``.
    """

    def __init__(self, layout_name: str, *, gap_s: float, terminator: Terminator) -> None:
        if gap_s <= 0:
            raise ValueError("gap_s must be positive")
        self.gap_s = gap_s
        self.terminator = Terminator(terminator)
        self._decoder = KeyDecoder(layout(layout_name))
        self._text: list[str] = []
        self._last_press: float | None = None

    @property
    def pending(self) -> bool:
        """True while a scan is half-typed (the caller should wait at most ``gap_s``)."""
        return bool(self._text)

    def feed(self, event: KeyEvent) -> list[str]:
        """The scans ``event`` completed (a pause before it, its terminator key)."""
        done: list[str] = []
        if event.value != 0:
            last, self._last_press = self._last_press, event.time
            if self._text and last is not None and event.time - last > self.gap_s:
                done.extend(self.flush())
            if self._ends_scan(event.code):
                if event.value == 1:
                    done.extend(self.flush())
                return done
        self._text.append(self._decoder.feed(event.code, event.value))
        return done

    def flush(self) -> list[str]:
        """End the scan in progress: ``[text]``, or ``[]`` when nothing was typed."""
        text = "".join(self._text)
        self._text.clear()
        self._decoder.reset()
        return [text] if text else []

    def _ends_scan(self, code: int) -> bool:
        enter = code in (KEY_ENTER, KEY_KPENTER)
        if self.terminator is Terminator.ENTER:
            return enter
        if self.terminator is Terminator.TAB:
            return code == KEY_TAB
        return enter or code == KEY_TAB


def _scan(text: str) -> Scan:
    payload = text.encode("utf-8")
    return build_scan(payload, payload, "wedge")


class WedgeScanner(ScanReader):
    """A keyboard-wedge scanner read from its evdev node.

    ``read_scan`` waits for the next scan; it raises ``ConnectionLost`` when the device
    goes away (unplugged: ENODEV). Call it from one task at a time. Use ``open`` to
    create one; it is an async context manager.
    """


    def __init__(self, fd: int, path: str, assembler: WedgeAssembler) -> None:
        self.path = path
        self._fd: int | None = fd
        self._assembler = assembler
        self._ready: deque[str] = deque()
        self._partial = b""
        self.scans_read = 0

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        layout: str = "us",
        gap_s: float = 0.05,
        terminator: Terminator | str = Terminator.ENTER,
        grab: bool = True,
    ) -> WedgeScanner:
        """Open and (by default) grab ``path``. ``ConnectFailed`` when it is missing,
        not readable, or already grabbed by another program; ValueError for a bad
        layout, gap or terminator."""
        assembler = WedgeAssembler(layout, gap_s=gap_s, terminator=Terminator(terminator))
        name = os.fspath(path)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise ConnectFailed(f"{name}: {exc.strerror or exc}") from exc
        if grab:
            try:
                fcntl.ioctl(fd, EVIOCGRAB, 1)
            except OSError as exc:
                os.close(fd)
                reason = "grabbed by another program" if exc.errno == errno.EBUSY else exc
                raise ConnectFailed(f"{name}: cannot grab the device: {reason}") from exc
        return cls(fd, name, assembler)

    async def read_scan(self) -> Scan:
        """The next scan, waiting as long as it takes. Raises ``ConnectionLost``."""
        while not self._ready:
            fd = self._require_fd()
            if self._assembler.pending:
                try:
                    async with asyncio.timeout(self._assembler.gap_s):
                        await wait_fd(fd, writable=False)
                except TimeoutError:
                    self._ready.extend(self._assembler.flush())
                    continue
            else:
                await wait_fd(fd, writable=False)
            self._read_events(fd)
        self.scans_read += 1
        return _scan(self._ready.popleft())

    def _read_events(self, fd: int) -> None:
        try:
            data = os.read(fd, _EVENT.size * _READ_EVENTS)
        except BlockingIOError:
            return
        except OSError as exc:
            # ENODEV is the unplug; anything else on a device we hold is as fatal.
            raise ConnectionLost(f"{self.path}: {exc.strerror or exc}") from exc
        if not data:
            raise ConnectionLost(f"{self.path}: device closed")
        data = self._partial + data
        whole = len(data) - len(data) % _EVENT.size
        self._partial = data[whole:]
        for sec, usec, ev_type, code, value in _EVENT.iter_unpack(data[:whole]):
            if ev_type == EV_KEY:
                event = KeyEvent(sec + usec / 1_000_000, code, value)
                self._ready.extend(self._assembler.feed(event))

    def _require_fd(self) -> int:
        if self._fd is None:
            raise ConnectionLost(f"{self.path}: scanner is closed")
        return self._fd

    async def aclose(self) -> None:
        """Release the grab and close the device; idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.ioctl(fd, EVIOCGRAB, 0)
        except OSError:
            pass  # not grabbed, or already gone: closing releases it anyway
        os.close(fd)


@dataclass(frozen=True, slots=True)
class InputDeviceInfo:
    """An input device as sysfs describes it."""

    path: str  # /dev/input/eventN
    name: str
    vendor_id: int
    product_id: int


def _read_attr(folder: Path, name: str) -> str:
    try:
        return (folder / name).read_text().strip()
    except OSError:
        return ""


def find_wedge_scanners(
    *, name: str | None = None, vendor_product: str | None = None, sysfs: str = "/sys"
) -> list[InputDeviceInfo]:
    """Input devices under ``/sys/class/input`` whose name contains ``name``
    (case-insensitive) and/or whose ids are ``vendor_product`` (``"05e0:1200"``),
    sorted by path. A scanner has no "I am a scanner" flag: match it by what it is."""
    wanted: tuple[int, int] | None = None
    if vendor_product is not None:
        vendor, _, product = vendor_product.partition(":")
        wanted = (int(vendor, 16), int(product, 16))
    found: list[InputDeviceInfo] = []
    for node in sorted(Path(sysfs, "class", "input").glob("event*")):
        device = node / "device"
        info = InputDeviceInfo(
            path=f"/dev/input/{node.name}",
            name=_read_attr(device, "name"),
            vendor_id=int(_read_attr(device, "id/vendor") or "0", 16),
            product_id=int(_read_attr(device, "id/product") or "0", 16),
        )
        if name is not None and name.lower() not in info.name.lower():
            continue
        if wanted is not None and (info.vendor_id, info.product_id) != wanted:
            continue
        found.append(info)
    return found
