"""The ESC/POS emulator parses what python-escpos emits and answers like an Epson TM-T88V."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from PIL import Image

from drivers.emulation import EmulatorHub, emulator_factory
from drivers.errors import InvalidURL, UnsupportedFeature
from drivers.escpos._lib import escpos_printer
from drivers.escpos.emulator import EscposEmulator, decode_code128
from drivers.escpos.paper import (
    Align,
    Barcode,
    Cut,
    DrawerPulse,
    Font,
    ImageSource,
    QrCode,
    RasterImage,
    TextLine,
)
from drivers.escpos.status import ErrorKind, PaperState, parse_asb, parse_dle_eot

DLE_EOT = b"\x10\x04"
UNICODE_LINE = "Grüße € ä ß é ñ"


def dummy() -> escpos_printer.Dummy:
    return escpos_printer.Dummy(profile="TM-T88V")


def feed(emulator: EscposEmulator, data: bytes, split: str) -> bytes:
    """Send ``data`` whole, byte by byte, or in random chunks; return all replies."""
    if split == "whole":
        return emulator.receive(data)
    replies = bytearray()
    if split == "bytes":
        for i in range(len(data)):
            replies += emulator.receive(data[i : i + 1])
        return bytes(replies)
    rng = random.Random(len(data))
    pos = 0
    while pos < len(data):
        step = rng.randint(1, 7)
        replies += emulator.receive(data[pos : pos + step])
        pos += step
    return bytes(replies)


def full_job() -> bytes:
    """One job using every kind of command python-escpos 3.1 emits for a receipt."""
    p = dummy()
    p.hw("INIT")
    p.set(align="center", bold=True, underline=1, double_height=True, double_width=True)
    p.text(UNICODE_LINE + "\n")
    p.set(normal_textsize=True, bold=False, underline=0, align="left", font="b")
    p.text("small font\n")
    p.set(font="a", custom_size=True, width=3, height=2, invert=True, flip=True, smooth=True)
    p.text("big\n")
    p.set(normal_textsize=True, invert=False, flip=False)
    p.line_spacing(40)
    p.ln(2)
    p.line_spacing()
    p.barcode("{BORDER-12345", "CODE128", function_type="B")
    p.barcode("4006381333931", "EAN13", function_type="A")
    p.qr("https://example.com/r/12345", native=True)
    p.qr("non-native", native=False)
    picture = Image.new("1", (20, 10), 1)
    for impl in ("bitImageRaster", "graphics", "bitImageColumn"):
        p.image(picture, impl=impl)
    p.cut()
    p.cut(mode="PART")
    p.cashdraw(2)
    p.cashdraw(5)
    return bytes(p.output)


SPLITS = ["whole", "bytes", "chunks"]


@pytest.mark.parametrize("split", SPLITS)
def test_full_python_escpos_job_parses_the_same_however_it_is_split(split: str) -> None:
    data = full_job()
    reference = EscposEmulator()
    reference.receive(data)
    emulator = EscposEmulator()

    replies = feed(emulator, data, split)

    assert replies == b""
    assert emulator.unknown_commands == []
    assert bytes(emulator.printed_bytes) == data
    assert emulator.output_text() == reference.output_text()
    assert emulator.cuts == 2
    assert [(p.pin, p.on_ms) for p in emulator.drawer_pulses] == [(2, 100), (5, 100)]
    kinds = [type(e).__name__ for e in emulator.paper.elements if not isinstance(e, TextLine)]
    assert kinds == [
        "Barcode",
        "Barcode",
        "QrCode",
        "RasterImage",  # the non-native QR
        "RasterImage",
        "RasterImage",
        "RasterImage",
        "Cut",
        "Cut",
        "DrawerPulse",
        "DrawerPulse",
    ]


def test_whole_lines_print_the_same_paper_as_lines_fed_byte_by_byte() -> None:
    # Whole text lines take a shorter way through the emulator; fed a byte at a time they
    # go the general way. Both must leave exactly the same paper: styles, alignment,
    # wrapping, code pages, columns and spacing.
    p = dummy()
    p.set(align="center", bold=True, double_width=True)
    p.text("Bench Store Wien\n")
    p.set(align="right", bold=False, normal_textsize=True, underline=1)
    p.text(UNICODE_LINE + "\n")
    p.set(align="left", underline=0, font="b")
    p.text("x" * 80 + " wraps on font B\n")
    p.set(font="a")
    p.line_spacing(40)
    p.text("=" * 42 + "\n")  # exactly the paper's width: no wrap
    p.text("y" * 43 + "\n")  # one character too many: wraps
    p.text("\n\n")
    p.text("€ 9,99\n" * 3)
    data = bytes(p.output)
    whole, byte_by_byte = EscposEmulator(), EscposEmulator()

    feed(whole, data, "whole")
    feed(byte_by_byte, data, "bytes")

    assert whole.paper.elements == byte_by_byte.paper.elements
    assert len(whole.paper.elements) == 12
    assert bytes(whole.printed_bytes) == data


@pytest.mark.parametrize("split", SPLITS)
def test_unicode_text_round_trips_through_magic_code_pages(split: str) -> None:
    p = dummy()
    p.text(UNICODE_LINE + "\n")
    p.text("Straße ñandú café €5\n")
    emulator = EscposEmulator()

    feed(emulator, bytes(p.output), split)

    assert b"\x1bt" in bytes(p.output)  # the encoder really switched code pages
    assert emulator.output_text() == UNICODE_LINE + "\n" + "Straße ñandú café €5\n"


def test_code_page_table_comes_from_the_profile() -> None:
    emulator = EscposEmulator()
    # ESC t 16 = CP1252 on TM-T88V, where 0x80 is the euro sign; ESC t 0 = CP437 (0x81 = ü).
    emulator.receive(b"\x1bt\x10\x80\x1bt\x00\x81\n")
    assert emulator.output_text() == "€ü\n"


def test_styles_are_recorded_per_span() -> None:
    p = dummy()
    p.set(bold=True, underline=2, double_width=True, double_height=True)
    p.text("A")
    p.set(bold=False, underline=0, normal_textsize=True, invert=True, flip=True)
    p.text("b")
    p.set(invert=False, flip=False, custom_size=True, width=4, height=3)
    p.text("c\n")
    emulator = EscposEmulator()
    emulator.receive(bytes(p.output))

    (line,) = emulator.paper.of_type(TextLine)
    first, second, third = line.spans
    assert (first.text, first.style.bold, first.style.underline) == ("A", True, 2)
    assert (first.style.width, first.style.height) == (2, 2)
    assert (second.text, second.style.inverse, second.style.upside_down) == ("b", True, True)
    assert (second.style.bold, second.style.width) == (False, 1)
    assert (third.text, third.style.width, third.style.height) == ("c", 4, 3)


def test_alignment_pads_to_font_columns_with_double_width_counting_twice() -> None:
    p = dummy()
    p.set(align="center")
    p.text("1234\n")
    p.set(align="right")
    p.text("ab\n")
    p.set(align="right", font="b")
    p.text("cd\n")
    p.set(align="center", font="a", double_width=True)
    p.text("XY\n")
    emulator = EscposEmulator()
    emulator.receive(bytes(p.output))

    assert emulator.output_text().splitlines() == [
        " " * 19 + "1234",
        " " * 40 + "ab",
        " " * 54 + "cd",
        " " * 19 + "XY",
    ]
    fonts = [line.font for line in emulator.paper.of_type(TextLine)]
    assert fonts == [Font.A, Font.A, Font.B, Font.A]


def test_long_text_wraps_at_the_paper_width() -> None:
    emulator = EscposEmulator()
    emulator.receive(b"x" * 50 + b"\n" + b"\x1d!\x10" + b"y" * 22 + b"\n")
    assert emulator.output_text().splitlines() == ["x" * 42, "x" * 8, "y" * 21, "y"]


def test_init_resets_modes_and_drops_the_unprinted_line() -> None:
    emulator = EscposEmulator()
    emulator.receive(b"\x1bE\x01\x1ba\x02lost\x1b@kept\n")
    (line,) = emulator.paper.of_type(TextLine)
    assert line.text == "kept"
    assert line.align is Align.LEFT
    assert not line.spans[0].style.bold


BARCODES = [
    ("{BORDER-12345", "CODE128", "B", "ORDER-12345"),
    ("{A{{AB", "CODE128", "B", "{AB"),
    ("4006381333931", "EAN13", "A", "4006381333931"),
    ("4006381333931", "EAN13", "B", "4006381333931"),
    ("ABC-123", "CODE39", "A", "ABC-123"),
    ("ABC-123", "CODE39", "B", "ABC-123"),
    ("12345678", "ITF", "A", "12345678"),
    ("12345678", "ITF", "B", "12345678"),
    ("01234567890", "UPC-A", "A", "01234567890"),
    ("01234567890", "UPC-A", "B", "01234567890"),
]


@pytest.mark.parametrize(("code", "symbology", "function", "data"), BARCODES)
@pytest.mark.parametrize("split", ["whole", "bytes"])
def test_barcodes_keep_raw_and_decoded_data(
    code: str, symbology: str, function: str, data: str, split: str
) -> None:
    p = dummy()
    p.barcode(code, symbology, function_type=function, height=80, width=2, pos="ABOVE")
    emulator = EscposEmulator()
    feed(emulator, bytes(p.output), split)

    (barcode,) = emulator.paper.of_type(Barcode)
    assert (barcode.symbology, barcode.data, barcode.raw) == (symbology, data, code.encode())
    assert (barcode.height, barcode.module_width, barcode.hri_position) == (80, 2, 1)
    assert barcode.align is Align.CENTER
    assert emulator.unknown_commands == []


def test_code128_code_set_c_bytes_are_digit_pairs() -> None:
    assert decode_code128(b"{C\x0c\x22\x38{BA") == "123456A"


@pytest.mark.parametrize(("size", "ec", "letter"), [(3, 0, "L"), (6, 3, "H"), (4, 2, "Q")])
def test_native_qr_records_data_size_and_error_correction(size: int, ec: int, letter: str) -> None:
    p = dummy()
    p.qr("https://example.com/r/ä", native=True, size=size, ec=ec)
    emulator = EscposEmulator()
    feed(emulator, bytes(p.output), "bytes")

    (qr,) = emulator.paper.of_type(QrCode)
    assert (qr.data, qr.module_size, qr.ec_level, qr.model) == (
        "https://example.com/r/ä",
        size,
        letter,
        2,
    )


def checkerboard(width: int, height: int) -> Image.Image:
    image = Image.new("1", (width, height), 255)
    for y in range(height):
        for x in range(width):
            if (x // 3 + y // 2) % 2 == 0:
                image.putpixel((x, y), 0)
    return image


@pytest.mark.parametrize(
    ("impl", "source"),
    [
        ("bitImageRaster", ImageSource.RASTER),
        ("graphics", ImageSource.GRAPHICS),
        ("bitImageColumn", ImageSource.COLUMN),
    ],
)
def test_images_arrive_pixel_for_pixel(impl: str, source: ImageSource) -> None:
    picture = checkerboard(37, 50)
    p = dummy()
    p.image(picture, impl=impl)
    emulator = EscposEmulator()
    feed(emulator, bytes(p.output), "chunks")

    (image,) = emulator.paper.of_type(RasterImage)
    assert image.source is source
    assert image.image.width >= 37 and image.image.height >= 50
    received = image.image.crop((0, 0, 37, 50)).convert("L")
    assert received.tobytes() == picture.convert("L").tobytes()
    # Anything beyond the picture (byte or stripe padding) is blank paper.
    extra = image.image.convert("L")
    for x in range(37, extra.width):
        assert extra.getpixel((x, 0)) == 255


def test_cuts_and_drawer_pulses() -> None:
    p = dummy()
    p.cut()
    p.cut(mode="PART")
    p.cashdraw(2)
    p.cashdraw(5)
    emulator = EscposEmulator()
    emulator.receive(bytes(p.output) + b"\x10\x14\x01\x00\x03")  # real-time pulse, pin 2, 300 ms

    assert [cut.partial for cut in emulator.paper.of_type(Cut)] == [False, True]
    assert emulator.cuts == 2
    assert [(d.pin, d.on_ms) for d in emulator.drawer_pulses] == [(2, 100), (5, 100), (2, 300)]
    assert emulator.paper.of_type(DrawerPulse) == emulator.drawer_pulses
    assert emulator.state()["drawer"] == "open"
    assert emulator.receive(DLE_EOT + b"\x01") == b"\x16"  # pin 3 high


def dle_eot_all(emulator: EscposEmulator) -> bytes:
    return emulator.receive(
        DLE_EOT + b"\x01" + DLE_EOT + b"\x02" + DLE_EOT + b"\x03" + DLE_EOT + b"\x04"
    )


STATUS_CASES = [
    ({}, bytes([0x12, 0x12, 0x12, 0x12])),
    ({"paper": "near_end"}, bytes([0x12, 0x12, 0x12, 0x1E])),
    ({"paper": "out"}, bytes([0x1A, 0x32, 0x12, 0x72])),
    ({"online": "false"}, bytes([0x1A, 0x12, 0x12, 0x12])),
    ({"offline": "true"}, bytes([0x1A, 0x12, 0x12, 0x12])),
    ({"cover": "open"}, bytes([0x1A, 0x16, 0x12, 0x12])),
    ({"drawer": "open"}, bytes([0x16, 0x12, 0x12, 0x12])),
    ({"error": "cutter"}, bytes([0x1A, 0x52, 0x1A, 0x12])),
    ({"error": "unrecoverable"}, bytes([0x1A, 0x52, 0x32, 0x12])),
    ({"error": "auto_recoverable"}, bytes([0x1A, 0x52, 0x52, 0x12])),
]


@pytest.mark.parametrize(("faults", "expected"), STATUS_CASES)
def test_dle_eot_answers_like_a_tm_t88v(faults: dict[str, str], expected: bytes) -> None:
    emulator = EscposEmulator()
    emulator.apply_faults(faults)
    replies = dle_eot_all(emulator)
    assert replies == expected
    parsed = parse_dle_eot(replies)
    model = emulator.printer_status()
    assert (parsed.online, parsed.paper, parsed.cover_open) == (
        model.online,
        model.paper,
        model.cover_open,
    )
    assert (parsed.drawer_pin3_high, parsed.error) == (model.drawer_pin3_high, model.error)


def test_dle_eot_split_across_writes() -> None:
    emulator = EscposEmulator()
    emulator.apply_faults({"paper": "out"})
    assert emulator.receive(b"\x10") == b""
    assert emulator.receive(b"\x04") == b""
    assert emulator.receive(b"\x04") == b"\x72"


def test_without_near_end_sensor_near_end_reads_as_ok() -> None:
    emulator = EscposEmulator({"near_end_sensor": "false"})
    emulator.apply_faults({"paper": "near_end"})
    assert emulator.receive(DLE_EOT + b"\x04") == b"\x12"
    assert emulator.receive(b"\x1dr\x01") == b"\x00"


def test_gs_r_and_gs_i() -> None:
    emulator = EscposEmulator()
    assert emulator.receive(b"\x1dI\x42") == b"_EPSON\x00"
    assert emulator.receive(b"\x1dI\x43") == b"_TM-T88V\x00"
    assert len(emulator.receive(b"\x1dI\x01")) == 1
    assert emulator.receive(b"\x1dr\x01") == b"\x00"
    assert emulator.receive(b"\x1dr\x02") == b"\x00"
    emulator.apply_faults({"paper": "near_end", "drawer": "open"})
    assert emulator.receive(b"\x1dr\x01") == b"\x03"
    assert emulator.receive(b"\x1dr\x02") == b"\x01"
    emulator.apply_faults({"paper": "out"})
    reply = emulator.receive(b"\x1dr\x01")
    assert reply == b"\x0c" and not reply[0] & 0x10  # bit 4 clear: not a DLE EOT / ASB byte


async def test_asb_is_sent_on_enable_and_on_every_change() -> None:
    emulator = EscposEmulator()
    session = emulator.connect()
    await session.write(b"\x1da\xff")
    first = await session.read(4, 1.0)
    assert first == b"\x10\x00\x00\x00"
    assert parse_asb(first).blocking_reason is None

    emulator.apply_faults({"paper": "out"})
    out = parse_asb(await session.read(4, 1.0))
    assert out.paper is PaperState.OUT and not out.online

    emulator.apply_faults({"cover": "open"})
    cover = await session.read(4, 1.0)
    assert cover[0] == 0x38 and cover[2] == 0x0C

    emulator.apply_faults({"cover": "closed", "paper": "ok"})
    assert await session.read(8, 1.0) == b"\x18\x00\x0c\x00" + b"\x10\x00\x00\x00"

    emulator.apply_faults({"paper": "ok"})  # no change, no message
    assert await session.read(4, 0.05) == b""

    emulator.receive(b"\x1bp\x00\x19\x19")  # a drawer kick raises pin 3
    assert parse_asb(await session.read(4, 1.0)).drawer_pin3_high

    emulator.apply_faults({"error": "cutter"})
    assert parse_asb(await session.read(4, 1.0)).error is ErrorKind.CUTTER

    await session.write(b"\x1da\x00")  # disable
    emulator.apply_faults({"error": "none"})
    assert await session.read(4, 0.05) == b""


BLOCKING_FAULTS = [
    ({"paper": "out"}, {"paper": "ok"}),
    ({"cover": "open"}, {"cover": "closed"}),
    ({"online": "false"}, {"online": "true"}),
    ({"offline": "true"}, {"offline": "false"}),
    ({"error": "auto_recoverable"}, {"error": "none"}),
]


@pytest.mark.parametrize(("fault", "clear"), BLOCKING_FAULTS)
def test_print_data_is_held_while_blocked_and_printed_once_after(
    fault: dict[str, str], clear: dict[str, str]
) -> None:
    p = dummy()
    p.text("Receipt 1\n")
    p.barcode("{BORDER-1", "CODE128", function_type="B")
    p.cut()
    job = bytes(p.output)
    emulator = EscposEmulator()
    emulator.apply_faults(fault)

    # Status is answered in the middle of held print data.
    replies = emulator.receive(job[:7] + DLE_EOT + b"\x01" + job[7:])
    assert replies == b"\x1a"
    assert emulator.output_text() == ""
    assert emulator.printed_bytes == b""
    assert emulator.state()["held_bytes"] == str(len(job))

    emulator.apply_faults(clear)
    assert bytes(emulator.printed_bytes) == job
    assert emulator.output_text().count("Receipt 1") == 1
    assert emulator.state()["held_bytes"] == "0"

    emulator.apply_faults(clear)  # clearing again prints nothing twice
    emulator.apply_faults(fault)
    emulator.apply_faults(clear)
    assert bytes(emulator.printed_bytes) == job
    assert emulator.cuts == 1


def test_near_end_does_not_hold_print_data() -> None:
    emulator = EscposEmulator()
    emulator.apply_faults({"paper": "near_end"})
    emulator.receive(b"still printing\n")
    assert emulator.output_text() == "still printing\n"


def test_data_sent_after_the_fault_clears_follows_held_data() -> None:
    emulator = EscposEmulator()
    emulator.apply_faults({"paper": "out"})
    emulator.receive(b"first\n")
    emulator.apply_faults({"paper": "ok"})
    emulator.receive(b"second\n")
    assert emulator.output_text() == "first\nsecond\n"


@pytest.mark.parametrize(
    ("key", "value"),
    [("paper", "empty"), ("cover", "ajar"), ("online", "maybe"), ("drawer", "1"), ("error", "x")],
)
def test_bad_fault_values_are_refused_by_name(key: str, value: str) -> None:
    with pytest.raises(UnsupportedFeature, match=key):
        EscposEmulator().apply_faults({key: value})


def test_unknown_fault_key_is_refused() -> None:
    with pytest.raises(UnsupportedFeature, match="temperature"):
        EscposEmulator().apply_faults({"temperature": "hot"})


def test_state_shows_every_fault() -> None:
    emulator = EscposEmulator()
    emulator.apply_faults({"paper": "near_end", "cover": "open", "drawer": "open"})
    assert emulator.state() == {
        "link": "up",
        "paper": "near_end",
        "cover": "open",
        "online": "true",
        "drawer": "open",
        "error": "none",
        "held_bytes": "0",
    }


def test_unknown_commands_are_skipped_and_counted() -> None:
    emulator = EscposEmulator()
    emulator.receive(b"\x1dz\x07\x1b\x7f\x1bt\xc8ok\n")
    assert emulator.unknown_commands == [b"\x1dz", b"\x1b\x7f", b"\x1bt\xc8"]
    assert emulator.output_text().endswith("ok\n")


def test_clear_output_tears_off_the_paper() -> None:
    emulator = EscposEmulator()
    emulator.receive(b"gone\n\x1dV\x00")
    emulator.clear_output()
    emulator.receive(b"new\n")
    assert emulator.output_text() == "new\n"
    assert emulator.printed_bytes == b"new\n"
    assert emulator.cuts == 0


@pytest.mark.parametrize(
    "options",
    [{"profile": "NO-SUCH-PRINTER"}, {"colour": "red"}, {"near_end_sensor": "perhaps"}],
)
def test_bad_options_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(InvalidURL):
        EscposEmulator(options)


def test_profile_sets_columns_and_model() -> None:
    emulator = EscposEmulator({"profile": "TM-T20II"})
    assert emulator.receive(b"\x1dI\x43") == b"_TM-T20II\x00"
    assert emulator.width_px > 0 and emulator.columns_a > 0


def test_hub_builds_the_emulator_by_kind() -> None:
    factory: Callable[..., object] = emulator_factory("escpos")
    assert factory is EscposEmulator
    hub = EmulatorHub()
    emulator = hub.get_or_create("escpos", "receipt-1", {"profile": "TM-T88V"})
    assert isinstance(emulator, EscposEmulator)
    assert hub.get_or_create("escpos", "receipt-1", {}) is emulator


async def test_drawer_closes_by_itself_when_configured() -> None:
    import asyncio

    emulator = EscposEmulator({"drawer_auto_close_ms": "50"})
    emulator.receive(b"\x1bp\x00\x19\x19")
    assert emulator.state()["drawer"] == "open"
    await asyncio.sleep(0.2)
    assert emulator.state()["drawer"] == "closed"


@pytest.mark.parametrize(
    "faults",
    [
        {"paper": "out", "bogus": "x"},
        {"cover": "open", "paper": "sideways"},
        {"paper": "out", "link": "sideways"},
        {"online": "false", "link_bps": "fast"},
    ],
)
def test_faults_apply_all_or_nothing(faults: dict[str, str]) -> None:
    from drivers.errors import UnsupportedFeature

    emulator = EscposEmulator({})
    before = emulator.state()
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults(faults)
    assert emulator.state() == before
