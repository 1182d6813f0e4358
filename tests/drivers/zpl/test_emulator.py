"""The ZPL emulator: stream handling, ^PQ, faults buffering, ~JA, output; and LabelPrinter
against it over ``emu://``, a real TCP listener and a pseudo-terminal."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
import zxingcpp
from PIL import Image

from drivers.emulation import EmulatorHub, emulator_factory
from drivers.emulation_servers import PtyServer, serve_tcp
from drivers.errors import DeviceNotReady, InvalidURL, UnsupportedFeature
from drivers.transports.emu import EmuTransport
from drivers.transports.registry import open_transport
from drivers.url import DeviceURL
from drivers.zpl.emulator import ZplEmulator
from drivers.zpl.media import Media
from drivers.zpl.printer import LabelPrinter
from drivers.zpl.status import LabelStatus, parse_host_status


def tag(text: str, quantity: int = 1) -> bytes:
    pq = f"^PQ{quantity}" if quantity != 1 else ""
    return f"^XA^CI28^FO20,20^A0N,40,40^FD{text}^FS{pq}^XZ".encode()


def barcode_tag(data: str) -> bytes:
    return f"^XA^PW406^LL300^FO40,40^BY3^BCN,120,Y,N,N^FD{data}^FS^XZ".encode()


def status_of(emulator: ZplEmulator) -> LabelStatus:
    return parse_host_status(emulator.receive(b"~HS"))


def texts(emulator: ZplEmulator) -> list[str]:
    """The first text of each printed label, in print order."""
    return [_first_text(p.label) for p in emulator.printed]


def _first_text(label: object) -> str:
    for field in getattr(label, "fields", []):
        text = getattr(field, "text", None)
        if isinstance(text, str):
            return text
    return ""


# -- the stream ------------------------------------------------------------------------------


def test_registered_as_an_emulator_kind() -> None:
    emulator = emulator_factory("zpl")({"dpi": "300"})
    assert isinstance(emulator, ZplEmulator) and emulator.dpi == 300


@pytest.mark.parametrize("options", [{"dpi": "600"}, {"dpi": "x"}, {"colour": "red"}])
def test_bad_options_are_invalid_urls(options: dict[str, str]) -> None:
    with pytest.raises(InvalidURL):
        ZplEmulator(options)


def test_formats_split_over_many_chunks_and_several_in_one() -> None:
    emulator = ZplEmulator()
    stream = tag("one") + tag("two") + b"\r\n" + tag("three")
    for i in range(0, 30):
        assert emulator.receive(stream[i : i + 1]) == b""
    emulator.receive(stream[30:])
    assert emulator.labels_printed == 3
    assert texts(emulator) == ["one", "two", "three"]
    assert emulator.formats == [tag("one"), tag("two"), tag("three")]


def test_host_status_between_and_inside_formats() -> None:
    emulator = ZplEmulator()
    first, second = tag("first"), tag("second")
    middle = second.index(b"^FD")
    replies = emulator.receive(first + b"~HS" + second[:middle])
    assert parse_host_status(replies).formats_in_buffer == 0
    # Answered at once, in the middle of an unfinished format, which it leaves intact.
    inside = parse_host_status(emulator.receive(b"~HS"))
    assert inside.partial_format
    assert emulator.receive(second[middle:]) == b""
    assert texts(emulator) == ["first", "second"]
    assert not status_of(emulator).partial_format


def test_quantity_prints_copies() -> None:
    emulator = ZplEmulator()
    emulator.receive(tag("shirt", quantity=3) + tag("socks"))
    assert emulator.labels_printed == 4
    copies = [(p.copy, p.copies, p.format_number) for p in emulator.printed]
    assert copies == [(1, 3, 1), (2, 3, 1), (3, 3, 1), (1, 1, 2)]
    text = emulator.output_text()
    assert "--- label 3 (copy 3 of 3) ---" in text
    assert "--- label 4 (copy 1 of 1) ---" in text
    assert text.count("shirt") == 3


def test_format_state_persists_across_formats() -> None:
    emulator = ZplEmulator()
    emulator.receive(b"^XA^PW300^LL200^XZ" + tag("after"))
    assert emulator.format_state.print_width == 300
    assert status_of(emulator).label_length_dots == 200
    assert emulator.printed[-1].label.width == 300


def test_malformed_format_is_reported_and_the_stream_goes_on() -> None:
    emulator = ZplEmulator()
    emulator.receive(tag("good") + b"^XA^FO10,10^FDunterminated" + tag("also good"))
    assert texts(emulator) == ["good", "also good"]
    assert len(emulator.rejected) == 1
    assert "not printed" in emulator.output_text()


def test_format_the_parser_rejects_does_not_print() -> None:
    emulator = ZplEmulator()
    emulator.receive(b"^XA^FO10,10^BEN,80,Y,N^FDnot digits^FS^XZ" + tag("next"))
    assert texts(emulator) == ["next"]
    [rejected] = emulator.rejected
    assert rejected.format_number == 1 and "digits" in rejected.error
    text = emulator.output_text()
    assert text.index("format 1 not printed") < text.index("--- label 1 (copy 1 of 1) ---")


def test_settings_only_format_feeds_no_label() -> None:
    emulator = ZplEmulator()
    emulator.receive(Media(width_mm=50, height_mm=30).setup_zpl())
    assert emulator.labels_printed == 0 and emulator.output_text() == ""
    assert status_of(emulator).label_length_dots == Media(width_mm=50, height_mm=30).height_dots


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "on", "off", "reason"),
    [
        ("media", "out", "ok", "media_out"),
        ("head", "open", "closed", "head_open"),
        ("pause", "on", "off", "paused"),
        ("ribbon", "out", "ok", "ribbon_out"),
    ],
)
def test_faults_buffer_formats_and_release_them_once_in_order(
    key: str, on: str, off: str, reason: str
) -> None:
    emulator = ZplEmulator()
    emulator.receive(tag("before"))
    emulator.apply_faults({key: on})
    assert emulator.state()[key] == on
    emulator.receive(tag("a", quantity=2) + tag("b") + tag("c", quantity=3))
    status = status_of(emulator)
    assert status.blocking_reason == reason
    assert (status.formats_in_buffer, status.labels_remaining) == (3, 6)
    assert texts(emulator) == ["before"]

    emulator.apply_faults({key: off})
    assert texts(emulator) == ["before", "a", "a", "b", "c", "c", "c"]
    assert status_of(emulator).idle
    emulator.apply_faults({key: off})  # clearing again prints nothing twice
    assert emulator.labels_printed == 7


def test_printing_waits_until_the_last_fault_clears() -> None:
    emulator = ZplEmulator()
    emulator.apply_faults({"media": "out", "head": "open"})
    emulator.receive(tag("x"))
    emulator.apply_faults({"media": "ok"})
    assert emulator.labels_printed == 0
    emulator.apply_faults({"head": "closed"})
    assert emulator.labels_printed == 1


def test_pause_and_resume_commands() -> None:
    emulator = ZplEmulator()
    emulator.receive(b"~PP" + tag("held"))
    assert status_of(emulator).paused and emulator.labels_printed == 0
    emulator.receive(b"~PS")
    assert texts(emulator) == ["held"]


def test_cancel_all_drops_buffered_formats() -> None:
    emulator = ZplEmulator()
    emulator.apply_faults({"media": "out"})
    emulator.receive(tag("dropped", quantity=5) + tag("dropped too"))
    emulator.receive(b"~JA")
    assert status_of(emulator).idle
    emulator.receive(tag("kept"))
    emulator.apply_faults({"media": "ok"})
    assert texts(emulator) == ["kept"]


def test_darkness_is_recorded() -> None:
    emulator = ZplEmulator()
    emulator.receive(b"~SD25~JR~WC")
    assert emulator.darkness == 25
    assert emulator.state()["darkness"] == "25"


@pytest.mark.parametrize("faults", [{"paper": "out"}, {"media": "gone"}, {"head": "up"}])
def test_unknown_faults_are_refused(faults: dict[str, str]) -> None:
    with pytest.raises(UnsupportedFeature):
        ZplEmulator().apply_faults(faults)


# -- output ----------------------------------------------------------------------------------


def test_empty_output_is_one_blank_label() -> None:
    emulator = ZplEmulator({"width_mm": "50.8", "height_mm": "25.4"})
    image = Image.open(io.BytesIO(emulator.output_png()))
    assert image.size == (406, 203)
    assert image.convert("L").getextrema() == (255, 255)
    assert emulator.output_text() == ""


def test_png_stacks_the_latest_labels_and_decodes() -> None:
    emulator = ZplEmulator()
    for n in range(40):
        emulator.receive(barcode_tag(f"TAG-{n:04d}"))
    image = Image.open(io.BytesIO(emulator.output_png()))
    one = Image.open(io.BytesIO(emulator.label_png(-1)))
    assert image.width == one.width
    assert image.height == 32 * one.height + 31 * 4
    assert [r.text for r in zxingcpp.read_barcodes(one)] == ["TAG-0039"]
    first_shown = image.crop((0, 0, one.width, one.height))
    assert [r.text for r in zxingcpp.read_barcodes(first_shown)] == ["TAG-0008"]


def test_clear_output_forgets_what_was_printed() -> None:
    emulator = ZplEmulator()
    emulator.receive(tag("gone"))
    emulator.clear_output()
    assert emulator.labels_printed == 0 and emulator.printed == []
    assert emulator.output_text() == ""
    emulator.receive(tag("new"))
    assert "--- label 1 (copy 1 of 1) ---" in emulator.output_text()


# -- LabelPrinter against the emulator ---------------------------------------------------------


@pytest.fixture
async def emu_printer() -> AsyncIterator[tuple[LabelPrinter, ZplEmulator]]:
    transport = EmuTransport(DeviceURL.parse("emu://zpl/tags-1?dpi=203"), emulators=EmulatorHub())
    emulator = transport.emulator
    assert isinstance(emulator, ZplEmulator)
    await transport.open()
    printer = LabelPrinter(transport, Media(), timeout=0.5)
    yield printer, emulator
    await printer.aclose()


async def exercise(printer: LabelPrinter, emulator: ZplEmulator) -> None:
    """What the daemon does with a label printer, checked against the emulator."""
    assert (await printer.status()).blocking_reason is None
    await printer.setup()
    await printer.write(tag("one") + tag("two", quantity=2))
    status = await printer.wait_idle(timeout=2)
    assert status.idle and status.label_length_dots == Media().height_dots
    assert emulator.labels_printed == 3

    emulator.apply_faults({"media": "out"})
    await printer.write(tag("held", quantity=4))
    with pytest.raises(DeviceNotReady, match="media_out"):
        await printer.wait_idle(timeout=0.3)
    assert (await printer.status()).labels_remaining == 4
    emulator.apply_faults({"media": "ok"})
    assert (await printer.wait_idle(timeout=2)).idle
    assert emulator.labels_printed == 7


async def test_label_printer_over_emu(emu_printer: tuple[LabelPrinter, ZplEmulator]) -> None:
    await exercise(*emu_printer)


async def test_label_printer_over_tcp() -> None:
    emulator = ZplEmulator()
    server = await serve_tcp(emulator, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = await open_transport(f"tcp://127.0.0.1:{port}")
        printer = LabelPrinter(transport, Media(), timeout=1.0)
        try:
            await exercise(printer, emulator)
        finally:
            await printer.aclose()
    finally:
        server.close()
        await server.wait_closed()


async def test_label_printer_over_a_pty() -> None:
    emulator = ZplEmulator()
    async with PtyServer(emulator) as server:
        transport = await open_transport(f"serial://{server.path}?baudrate=115200")
        printer = LabelPrinter(transport, Media(), timeout=1.0)
        try:
            await exercise(printer, emulator)
        finally:
            await printer.aclose()


async def test_many_labels_stay_cheap() -> None:
    emulator = ZplEmulator()
    loop = asyncio.get_running_loop()
    began = loop.time()
    emulator.receive(b"".join(tag(f"tag {n}") for n in range(2000)))
    assert emulator.labels_printed == 2000
    assert loop.time() - began < 2.0
