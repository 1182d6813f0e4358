"""ReceiptPrinter against a scripted Transport: each expected write gets a scripted answer.

``ScriptedTransport`` is a plain implementation of our own ``Transport`` ABC; it fails
the test on any write the script does not expect, so the script is also a byte-exact
expectation of what the driver sends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque

import pytest

from drivers.errors import EncodingError, ProtocolError, TransportTimeout, UnsupportedFeature
from drivers.escpos.encoder import ReceiptEncoder, Symbology
from drivers.escpos.printer import ReceiptPrinter
from drivers.escpos.profiles import PrinterProfile, load_profile
from drivers.escpos.status import ErrorKind, PaperState
from drivers.transports.base import Transport
from drivers.url import DeviceURL

DLE_EOT_ALL = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
OK = b"\x12\x12\x12\x12"


@dataclasses.dataclass
class Step:
    """After the driver writes ``expect``, the device answers ``reply`` ``delay`` s later."""

    expect: bytes
    reply: bytes = b""
    delay: float = 0.0


class ScriptedTransport(Transport):
    def __init__(self, *steps: Step, pending: bytes = b"") -> None:
        super().__init__(DeviceURL.parse("test://scripted"))
        self.steps = deque(steps)
        self.writes: list[bytes] = []
        self.inbox = bytearray(pending)
        self.arrived = asyncio.Event()
        self.closed = False
        self._timers: list[asyncio.TimerHandle] = []

    async def open(self) -> None:
        return None

    async def write(self, data: bytes) -> None:
        self.writes.append(data)
        if not self.steps or self.steps[0].expect != data:
            expected = self.steps[0].expect if self.steps else None
            raise AssertionError(f"unexpected write {data!r}; script expects {expected!r}")
        step = self.steps.popleft()
        if step.delay:
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(step.delay, self.push, step.reply))
        else:
            self.push(step.reply)

    def push(self, data: bytes) -> None:
        self.inbox += data
        self.arrived.set()

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109
        if not self.inbox:
            self.arrived.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self.arrived.wait()
            except TimeoutError:
                return b""
        chunk = bytes(self.inbox[:max_bytes])
        del self.inbox[:max_bytes]
        return chunk

    async def aclose(self) -> None:
        self.closed = True
        for timer in self._timers:
            timer.cancel()


@pytest.fixture
def t88v() -> PrinterProfile:
    return load_profile("TM-T88V")


def make(
    profile: PrinterProfile, *steps: Step, pending: bytes = b"", **kwargs: object
) -> tuple[ReceiptPrinter, ScriptedTransport]:
    transport = ScriptedTransport(*steps, pending=pending)
    return ReceiptPrinter(transport, profile, **kwargs), transport  # type: ignore[arg-type]


# -- status ------------------------------------------------------------------------


async def test_status_one_write_all_ok(t88v: PrinterProfile) -> None:
    printer, transport = make(t88v, Step(DLE_EOT_ALL, OK))
    status = await printer.status()
    assert transport.writes == [DLE_EOT_ALL]
    assert status.online and status.paper is PaperState.OK and not status.cover_open
    assert status.error is ErrorKind.NONE and status.blocking_reason is None
    assert status.raw == OK


@pytest.mark.parametrize(
    ("paper", "state"),
    [(0x12, PaperState.OK), (0x1E, PaperState.NEAR_END), (0x72, PaperState.OUT)],
)
async def test_status_paper(t88v: PrinterProfile, paper: int, state: PaperState) -> None:
    printer, _ = make(t88v, Step(DLE_EOT_ALL, b"\x12\x12\x12" + bytes([paper])))
    assert (await printer.status()).paper is state


async def test_status_offline_cover_open_and_drawer(t88v: PrinterProfile) -> None:
    # n=1: offline + drawer pin 3 high; n=2: cover open; n=3: auto-recoverable error.
    printer, _ = make(
        t88v, Step(DLE_EOT_ALL, b"\x1e\x16\x52\x12"), drawer_open_when_high=False
    )
    status = await printer.status()
    assert not status.online and status.cover_open and status.drawer_pin3_high
    assert status.error is ErrorKind.AUTO_RECOVERABLE
    assert status.blocking_reason == "cover_open"
    assert printer.drawer_open(status) is False  # this drawer is open when pin 3 is low


async def test_asb_before_replies_is_taken_out(t88v: PrinterProfile) -> None:
    # ASB: drawer high, byte 2 = auto-recoverable error (0x40 alone lacks DLE EOT's
    # fixed bits, so it must not be read as an answer), byte 3 = paper end.
    asb = b"\x14\x40\x0c\x00"
    printer, _ = make(t88v, Step(DLE_EOT_ALL, asb + b"\x12\x12\x12\x1e"))
    status = await printer.status()
    assert status.paper is PaperState.NEAR_END and status.raw == b"\x12\x12\x12\x1e"
    assert printer.last_asb is not None
    assert printer.last_asb.raw == asb
    assert printer.last_asb.drawer_pin3_high and printer.last_asb.paper is PaperState.OUT
    assert printer.last_asb.error is ErrorKind.AUTO_RECOVERABLE


async def test_asb_between_replies_and_already_waiting(t88v: PrinterProfile) -> None:
    waiting = b"\x18\x00\x00\x00"  # offline, sent before we asked
    later = b"\x10\x00\x03\x00"  # near end, between answers 1 and 2
    printer, _ = make(
        t88v, Step(DLE_EOT_ALL, b"\x12" + later + b"\x12\x12\x12"), pending=waiting
    )
    status = await printer.status()
    assert status.raw == OK
    assert printer.last_asb is not None and printer.last_asb.raw == later
    assert printer.last_asb.paper is PaperState.NEAR_END


async def test_asb_split_across_reads(t88v: PrinterProfile) -> None:
    printer, transport = make(t88v, Step(DLE_EOT_ALL, b"\x10\x08"))
    task = asyncio.create_task(printer.status())
    await asyncio.sleep(0.02)
    transport.push(b"\x00\x00" + OK)
    assert (await task).raw == OK
    assert printer.last_asb is not None and printer.last_asb.error is ErrorKind.CUTTER


async def test_status_timeout(t88v: PrinterProfile) -> None:
    printer, _ = make(t88v, Step(DLE_EOT_ALL), status_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(TransportTimeout, match=r"did not answer DLE EOT within 0\.2 s"):
        await printer.status()
    assert 0.15 < time.monotonic() - started < 1.0


async def test_status_partial_answer_times_out(t88v: PrinterProfile) -> None:
    printer, _ = make(t88v, Step(DLE_EOT_ALL, b"\x12\x12"), status_timeout=0.1)
    with pytest.raises(TransportTimeout, match="got 2 of 4"):
        await printer.status()


async def test_reply_without_fixed_bits(t88v: PrinterProfile) -> None:
    printer, _ = make(t88v, Step(DLE_EOT_ALL, b"\x12\x00\x12\x12"))
    with pytest.raises(ProtocolError, match="DLE EOT 2 reply 0x00 lacks the fixed bits"):
        await printer.status()


async def test_late_answers_are_not_mistaken_for_new_ones(t88v: PrinterProfile) -> None:
    # The first answer comes after the timeout (paper out); the second query must
    # report its own, fresh answer (paper ok), not the late one.
    printer, _ = make(
        t88v,
        Step(DLE_EOT_ALL, b"\x12\x12\x12\x72", delay=0.15),
        Step(DLE_EOT_ALL, OK, delay=0.02),
        status_timeout=0.1,
    )
    with pytest.raises(TransportTimeout):
        await printer.status()
    await asyncio.sleep(0.1)  # the late answer arrives
    status = await printer.status()
    assert status.paper is PaperState.OK


async def test_cancelled_query_resyncs(t88v: PrinterProfile) -> None:
    printer, _ = make(
        t88v,
        Step(DLE_EOT_ALL, b"\x12\x12\x12\x72", delay=0.1),
        Step(DLE_EOT_ALL, OK),
    )
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await printer.status()
    await asyncio.sleep(0.1)
    assert (await printer.status()).paper is PaperState.OK


# -- ASB -----------------------------------------------------------------------------


async def test_enable_asb_consumes_first_message(t88v: PrinterProfile) -> None:
    printer, transport = make(t88v, Step(b"\x1da\xff", b"\x10\x00\x00\x00"), Step(DLE_EOT_ALL, OK))
    await printer.enable_asb()
    assert printer.asb_enabled
    assert printer.last_asb is not None and printer.last_asb.raw == b"\x10\x00\x00\x00"
    assert (await printer.status()).raw == OK
    assert transport.writes == [b"\x1da\xff", DLE_EOT_ALL]


async def test_enable_asb_on_silent_clone(t88v: PrinterProfile) -> None:
    printer, _ = make(t88v, Step(b"\x1da\xff"), Step(DLE_EOT_ALL, OK), status_timeout=0.1)
    await printer.enable_asb()
    assert not printer.asb_enabled and printer.last_asb is None
    assert (await printer.status()).raw == OK


async def test_enable_asb_without_profile_support_sends_nothing(t88v: PrinterProfile) -> None:
    printer, transport = make(dataclasses.replace(t88v, asb=False))
    await printer.enable_asb()
    assert transport.writes == [] and not printer.asb_enabled


# -- output, drawer, identity --------------------------------------------------------


async def test_write_sends_encoded_receipt(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("Hello")
    enc.barcode("ORDER-1", Symbology.CODE128)
    enc.cut()
    data = enc.getvalue()
    printer, transport = make(t88v, Step(data))
    await printer.write(data)
    assert transport.writes == [data]


async def test_kick_drawer(t88v: PrinterProfile) -> None:
    printer, transport = make(t88v, Step(b"\x1bp\x00\x32\x32"), Step(b"\x1bp\x01\x0a\x0a"))
    await printer.kick_drawer()
    await printer.kick_drawer(5, on_ms=20)
    assert transport.writes == [b"\x1bp\x00\x32\x32", b"\x1bp\x01\x0a\x0a"]
    with pytest.raises(EncodingError):
        await printer.kick_drawer(3)


async def test_kick_drawer_unsupported() -> None:
    printer, transport = make(load_profile("AF-240"))
    with pytest.raises(UnsupportedFeature):
        await printer.kick_drawer()
    assert transport.writes == []


async def test_identify(t88v: PrinterProfile) -> None:
    printer, _ = make(
        t88v,
        Step(b"\x1dI\x42", b"_EPSON\x00"),
        # An ASB message may come first; "_" then opens the answer, whose letters
        # (T = 0x54 looks like an ASB header) must not be taken for status.
        Step(b"\x1dI\x43", b"\x10\x00\x00\x00_TM-T88V\x00"),
    )
    assert await printer.identify() == {"maker": "EPSON", "model": "TM-T88V"}
    assert printer.last_asb is not None


async def test_identify_tolerates_silence(t88v: PrinterProfile) -> None:
    printer, _ = make(
        t88v,
        Step(b"\x1dI\x42"),
        Step(b"\x1dI\x43", b"_TM-T88V\x00"),
        status_timeout=0.1,
    )
    assert await printer.identify() == {"model": "TM-T88V"}


def test_capabilities_and_kind(t88v: PrinterProfile) -> None:
    printer, _ = make(t88v)
    assert ReceiptPrinter.kind == "receipt_printer"
    caps = printer.capabilities()
    assert caps["columns"] == {"a": 42, "b": 56}
    assert caps["width_px"] == 512 and caps["qr_native"] is True
    assert caps["cut"] is True and caps["drawer_pins"] == [2, 5] and caps["asb"] is True


async def test_aclose(t88v: PrinterProfile) -> None:
    printer, transport = make(t88v)
    await printer.aclose()
    assert transport.closed
