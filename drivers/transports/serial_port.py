"""``serial:///dev/ttyUSB0?baudrate=38400&parity=N&rtscts=1``: RS-232 / USB-serial ports.

pyserial opens and configures the port (termios, custom baud rates, exclusive lock);
the bytes then move through its non-blocking file descriptor on the event loop
(``add_reader`` / ``add_writer``), so nothing ever blocks the loop or strands a thread
when a device stops reading because it is out of paper.

Options: ``baudrate`` (default 9600), ``bytesize`` 5-8 (8), ``parity`` N/E/O/M/S (N),
``stopbits`` 1/1.5/2 (1), ``rtscts``/``dsrdtr``/``xonxoff`` flow control (off),
``write_timeout`` seconds on top of the line's own transmission time (10),
``exclusive`` lock against a second opener (on).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import struct
import termios
from dataclasses import dataclass

import serial

from drivers.errors import ConnectFailed, ConnectionLost, InvalidURL, TransportTimeout
from drivers.transports._fd import read_fd, write_fd
from drivers.transports.base import Transport
from drivers.transports.registry import local_path, seconds_option
from drivers.url import DeviceURL

__all__ = ["SerialSettings", "SerialTransport"]

_OPTIONS = {
    "baudrate",
    "bytesize",
    "parity",
    "stopbits",
    "rtscts",
    "dsrdtr",
    "xonxoff",
    "write_timeout",
    "exclusive",
}
_PARITIES = {
    "N": serial.PARITY_NONE,
    "E": serial.PARITY_EVEN,
    "O": serial.PARITY_ODD,
    "M": serial.PARITY_MARK,
    "S": serial.PARITY_SPACE,
}
_STOPBITS = {
    "1": serial.STOPBITS_ONE,
    "1.5": serial.STOPBITS_ONE_POINT_FIVE,
    "2": serial.STOPBITS_TWO,
}
# How often to look whether the UART has sent everything (the kernel offers no wakeup).
_DRAIN_POLL_S = 0.005


@dataclass(frozen=True)
class SerialSettings:
    """Line settings taken from the URL's options."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = serial.PARITY_NONE
    stopbits: float = serial.STOPBITS_ONE
    rtscts: bool = False
    dsrdtr: bool = False
    xonxoff: bool = False

    @classmethod
    def from_url(cls, url: DeviceURL) -> SerialSettings:
        baudrate = url.int_option("baudrate", cls.baudrate)
        if baudrate <= 0:
            raise InvalidURL(f"{url.raw!r}: baudrate={baudrate} must be a positive number")
        bytesize = url.int_option("bytesize", cls.bytesize)
        if not 5 <= bytesize <= 8:
            raise InvalidURL(f"{url.raw!r}: bytesize={bytesize} must be 5, 6, 7 or 8")
        parity_text = (url.str_option("parity") or "N").upper()
        if parity_text not in _PARITIES:
            raise InvalidURL(f"{url.raw!r}: parity={parity_text} must be one of N, E, O, M, S")
        stopbits_text = url.str_option("stopbits") or "1"
        if stopbits_text not in _STOPBITS:
            raise InvalidURL(f"{url.raw!r}: stopbits={stopbits_text} must be 1, 1.5 or 2")
        return cls(
            baudrate=baudrate,
            bytesize=bytesize,
            parity=_PARITIES[parity_text],
            stopbits=_STOPBITS[stopbits_text],
            rtscts=url.bool_option("rtscts", cls.rtscts),
            dsrdtr=url.bool_option("dsrdtr", cls.dsrdtr),
            xonxoff=url.bool_option("xonxoff", cls.xonxoff),
        )

    def seconds_on_wire(self, n_bytes: int) -> float:
        """How long ``n_bytes`` take on the line (start + data + parity + stop bits)."""
        bits = 1 + self.bytesize + (self.parity != serial.PARITY_NONE) + self.stopbits
        return n_bytes * bits / self.baudrate


class SerialTransport(Transport):
    """A serial port driven through its non-blocking descriptor on the event loop."""

    def __init__(self, url: DeviceURL) -> None:
        super().__init__(url)
        url.check_options(_OPTIONS)
        self.path = local_path(url, "serial:///dev/ttyUSB0")
        self.settings = SerialSettings.from_url(url)
        self.write_timeout = seconds_option(url, "write_timeout", 10.0)
        self.exclusive = url.bool_option("exclusive", True)
        self._port: serial.Serial | None = None

    async def open(self) -> None:
        if self._port is not None:
            return
        # Opening and configuring a tty are short ioctls, but a USB adapter being
        # unplugged can stall them; keep them off the loop.
        self._port = await asyncio.to_thread(self._open_port)

    def _open_port(self) -> serial.Serial:
        s = self.settings
        try:
            port = serial.Serial(
                port=self.path,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                rtscts=s.rtscts,
                dsrdtr=s.dsrdtr,
                xonxoff=s.xonxoff,
                timeout=0,
                write_timeout=0,
                exclusive=self.exclusive,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectFailed(f"{self.path}: {exc}") from exc
        try:
            # pyserial leaves VMIN=0, under which an idle read returns b"" exactly like a
            # hang-up. VMIN=1 on the non-blocking descriptor makes "no data yet" EAGAIN,
            # so b"" (or EIO) can only mean the port went away.
            fd = port.fileno()
            attrs = termios.tcgetattr(fd)
            attrs[6][termios.VMIN] = 1
            attrs[6][termios.VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except (termios.error, OSError) as exc:
            port.close()
            raise ConnectFailed(f"{self.path}: cannot configure the port: {exc}") from exc
        return port

    def _fd(self) -> int:
        if self._port is None:
            raise ConnectionLost(f"{self.path}: not open")
        return self._port.fileno()

    def _lost(self, exc: OSError) -> ConnectionLost:
        return ConnectionLost(f"{self.path}: {exc.strerror or exc} (port gone?)")

    async def write(self, data: bytes) -> None:
        fd = self._fd()
        budget = self.write_timeout + self.settings.seconds_on_wire(len(data))
        try:
            async with asyncio.timeout(budget):
                await write_fd(fd, data)
                # "Drained to the device": wait until the UART's output queue is empty.
                while self._output_queued(fd):  # noqa: ASYNC110 - nothing to wait on but time
                    await asyncio.sleep(_DRAIN_POLL_S)
        except TimeoutError as exc:
            raise TransportTimeout(
                f"{self.path}: device did not take the data within {budget:.1f} s "
                "(flow control holding, or out of paper?)"
            ) from exc
        except OSError as exc:
            raise self._lost(exc) from exc

    @staticmethod
    def _output_queued(fd: int) -> int:
        """Bytes still in the kernel's output queue (TIOCOUTQ); 0 where not supported."""
        try:
            raw = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOTTY):
                return 0
            raise
        queued: int = struct.unpack("i", raw)[0]
        return queued

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109 - the Transport interface
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        fd = self._fd()
        try:
            async with asyncio.timeout(timeout):
                data = await read_fd(fd, max_bytes)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise self._lost(exc) from exc
        if not data:
            raise ConnectionLost(f"{self.path}: port closed (hang-up)")
        return data

    async def aclose(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            # The kernel may hold close() until queued output has gone out (closing_wait,
            # up to 30 s on UART drivers), so it runs in a thread.
            await asyncio.to_thread(port.close)
