"""LabelPrinter: the ~HS round trip against a scripted link, then against the emulator."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from drivers.errors import DeviceNotReady, ProtocolError, TransportTimeout
from drivers.transports.base import Transport
from drivers.url import DeviceURL
from drivers.zpl.media import Media, MediaTracking
from drivers.zpl.printer import LabelPrinter
from drivers.zpl.status import host_status_reply

IDLE = host_status_reply(label_length_dots=609)


class ScriptedLink(Transport):
    """A link whose device answers each ``~HS`` with the next scripted list of chunks."""

    def __init__(self, *answers: list[bytes]) -> None:
        super().__init__(DeviceURL.parse("tcp://printer.test:9100"))
        self.answers: deque[list[bytes]] = deque(answers)
        self.inbox: deque[bytes] = deque()
        self.written: list[bytes] = []
        self.closed = False

    async def open(self) -> None:
        pass

    async def write(self, data: bytes) -> None:
        self.written.append(data)
        if data == b"~HS" and self.answers:
            self.inbox.extend(self.answers.popleft())

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109
        if not self.inbox:
            await asyncio.sleep(timeout)
            return b""
        chunk = self.inbox.popleft()
        if len(chunk) > max_bytes:
            self.inbox.appendleft(chunk[max_bytes:])
        return chunk[:max_bytes]

    async def aclose(self) -> None:
        self.closed = True


def printer_on(link: ScriptedLink, timeout: float = 0.2) -> LabelPrinter:
    return LabelPrinter(link, Media(), timeout=timeout)


async def test_status_reads_the_three_lines() -> None:
    link = ScriptedLink([IDLE])
    printer = printer_on(link)
    status = await printer.status()
    assert link.written == [b"~HS"]
    assert status.label_length_dots == 609 and status.blocking_reason is None
    assert status.raw == IDLE
    assert printer.last_status == status


async def test_stray_bytes_before_stx_are_dropped_and_split_replies_joined() -> None:
    paused = host_status_reply(paused=True)
    pieces = [b"\r\n\x00noise", paused[:5], paused[5:40], paused[40:41], paused[41:]]
    status = await printer_on(ScriptedLink(pieces)).status()
    assert status.paused
    assert status.raw == paused


async def test_no_answer_times_out() -> None:
    printer = printer_on(ScriptedLink(), timeout=0.05)
    with pytest.raises(TransportTimeout, match="did not answer ~HS"):
        await printer.status()


async def test_half_an_answer_times_out_naming_what_came() -> None:
    link = ScriptedLink([IDLE[: IDLE.index(b"\x03") + 3]])
    with pytest.raises(TransportTimeout, match="got 1 of 3 lines"):
        await printer_on(link, timeout=0.05).status()


async def test_garbled_answer_is_a_protocol_error_and_the_next_query_resyncs() -> None:
    garbled = IDLE.replace(b"\x02030,0", b"\x02030,X")
    # The first answer is garbled and followed by a late duplicate; both must be gone
    # before the second query, which then gets its own answer.
    link = ScriptedLink([garbled, host_status_reply(head_open=True)], [IDLE])
    printer = printer_on(link)
    with pytest.raises(ProtocolError, match="paper out flag"):
        await printer.status()
    assert not (await printer.status()).head_open


async def test_late_answer_after_a_timeout_is_not_taken_for_the_next_one() -> None:
    link = ScriptedLink()
    printer = printer_on(link, timeout=0.05)
    with pytest.raises(TransportTimeout):
        await printer.status()
    link.inbox.append(host_status_reply(head_open=True))  # the late answer arrives
    link.answers.append([IDLE])
    status = await printer.status()
    assert not status.head_open


async def test_setup_is_sent_once_per_connection() -> None:
    link = ScriptedLink()
    media = Media(width_mm=50, height_mm=30, tracking=MediaTracking.MARK)
    printer = LabelPrinter(link, media)
    await printer.setup()
    await printer.setup()
    assert link.written == [media.setup_zpl()]
    await printer.aclose()
    assert link.closed
    await printer.setup()  # a new connection needs the settings again
    assert link.written == [media.setup_zpl()] * 2


async def test_write_sends_bytes_as_they_are() -> None:
    link = ScriptedLink()
    await printer_on(link).write(b"^XA^FDx^FS^XZ")
    assert link.written == [b"^XA^FDx^FS^XZ"]


def test_capabilities() -> None:
    media = Media(width_mm=50.8, height_mm=25.4, dpi=300, darkness=20)
    caps = LabelPrinter(ScriptedLink(), media).capabilities()
    assert LabelPrinter.kind == "label_printer"
    assert caps["dpi"] == 300
    assert (caps["width_dots"], caps["height_dots"]) == (600, 300)
    assert caps["tracking"] == "gap" and caps["darkness"] == 20


async def test_wait_idle_polls_until_everything_printed() -> None:
    link = ScriptedLink(
        [host_status_reply(formats_in_buffer=2, labels_remaining=5)],
        [host_status_reply(formats_in_buffer=0, labels_remaining=1)],
        [IDLE],
    )
    status = await printer_on(link).wait_idle(timeout=5)
    assert status.idle
    assert link.written == [b"~HS"] * 3


async def test_wait_idle_names_why_the_printer_is_stuck() -> None:
    stuck = host_status_reply(media_out=True, formats_in_buffer=1, labels_remaining=3)
    link = ScriptedLink(*([stuck] for _ in range(50)))
    with pytest.raises(DeviceNotReady, match="media_out.*1 format.*3 label"):
        await printer_on(link).wait_idle(timeout=0.2)


async def test_wait_idle_times_out_when_printing_takes_too_long() -> None:
    busy = host_status_reply(labels_remaining=3)
    link = ScriptedLink(*([busy] for _ in range(50)))
    with pytest.raises(TransportTimeout, match="not idle"):
        await printer_on(link).wait_idle(timeout=0.2)
