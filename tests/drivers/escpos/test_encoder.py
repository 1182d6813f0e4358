"""ReceiptEncoder bytes, checked against the ESC/POS spec byte for byte.

Where the printer would draw from an image (raster QR, software barcodes, pictures),
the raster is cut back out of the bytes and read with zxing-cpp.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageOps

from drivers.errors import EncodingError, UnsupportedFeature
from drivers.escpos.encoder import (
    Align,
    Font,
    QrErrorLevel,
    ReceiptEncoder,
    Symbology,
    TextSize,
    drawer_kick_bytes,
    validate_barcode,
)
from drivers.escpos.profiles import PrinterProfile, load_profile

ESC_INIT = b"\x1b@"
RASTER = re.compile(rb"\x1dv0\x00(..)(..)", re.DOTALL)


@pytest.fixture
def t88v() -> PrinterProfile:
    return load_profile("TM-T88V")


def body(encoder: ReceiptEncoder) -> bytes:
    """Output after the leading ESC @."""
    data = encoder.getvalue()
    assert data.startswith(ESC_INIT)
    return data[len(ESC_INIT) :]


def rasters(data: bytes) -> list[Image.Image]:
    """Every ``GS v 0`` raster image in ``data``, as a white-on-black-inverted PIL image."""
    images = []
    for match in RASTER.finditer(data):
        width_bytes = int.from_bytes(match.group(1), "little")
        height = int.from_bytes(match.group(2), "little")
        start = match.end()
        raster = data[start : start + width_bytes * height]
        assert len(raster) == width_bytes * height
        # Printer bit 1 = black dot; PIL mode "1" bit 1 = white.
        image = Image.frombytes("1", (width_bytes * 8, height), raster).convert("L")
        images.append(ImageOps.invert(image))
    return images


def decode(image: Image.Image) -> list[str]:
    framed = ImageOps.expand(image, border=40, fill=255)
    return [result.text for result in zxingcpp.read_barcodes(framed)]


# -- text ------------------------------------------------------------------------------


def test_starts_with_init(t88v: PrinterProfile) -> None:
    assert ReceiptEncoder(t88v).getvalue() == ESC_INIT


def test_plain_text_selects_code_page_once_and_ends_line(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("Hello")
    enc.text("World\n")
    assert body(enc) == b"\x1bt\x00Hello\n" + b"World\n"


def test_euro_on_tm_t88v_uses_page_15(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("€")
    assert body(enc) == b"\x1bt\x0f\xa4\n"


def test_umlauts_use_pc437(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("Grüße")
    assert body(enc) == b"\x1bt\x00Gr\x81\xe1e\n"


def test_styles_are_reset_after_the_block(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("Hi", bold=True, underline=True, align=Align.CENTER, font=Font.B)
    enc.text("plain")
    assert body(enc) == (
        b"\x1bE\x01\x1b-\x01\x1bM\x01\x1ba\x01"  # bold, underline, font B, center
        b"\x1bt\x00Hi\n"
        b"\x1bE\x00\x1b-\x00\x1bM\x00\x1ba\x00"  # back to defaults
        b"plain\n"
    )


@pytest.mark.parametrize(
    ("size", "select"),
    [
        (TextSize.DOUBLE, b"\x1b!\x30"),
        (TextSize.DOUBLE_WIDTH, b"\x1b!\x20"),
        (TextSize.DOUBLE_HEIGHT, b"\x1b!\x10"),
    ],
)
def test_text_size(t88v: PrinterProfile, size: TextSize, select: bytes) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("X", size=size)
    out = body(enc)
    before, after = out.split(b"\x1bt\x00X\n")
    assert before.endswith(select)
    assert after.endswith(b"\x1b!\x00")
    assert b"\x1b!\x00" not in before[-len(select) :]


def test_control_characters_cannot_smuggle_commands(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("A\x1bp\x00\x19\x19B\r\nC\tD\x1dV\x00")
    assert body(enc) == b"\x1bt\x00A?p???B\nC D?V?\n"


def test_unprintable_character_becomes_question_mark(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("a☃b")
    assert body(enc) == b"\x1bt\x00a?b\n"


def test_empty_text_is_a_blank_line(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("")
    assert body(enc) == b"\x1bt\x00\n"


def test_font_b_missing_on_profile() -> None:
    enc = ReceiptEncoder(load_profile("ZJ-5870"))
    with pytest.raises(UnsupportedFeature, match="font B"):
        enc.text("x", font=Font.B)
    assert enc.getvalue() == ESC_INIT


def test_encoding_is_independent_of_earlier_receipts(t88v: PrinterProfile) -> None:
    # The shared character tables must not carry code page preferences across receipts.
    first = ReceiptEncoder(t88v)
    first.text("‰ ü")  # ‰ is first found in CP1252, which also holds ü
    assert b"\x1bt\x10\x89 \xfc" in first.getvalue()
    second = ReceiptEncoder(t88v)
    second.text("ü")
    fresh = ReceiptEncoder(t88v)
    fresh.text("ü")
    assert second.getvalue() == fresh.getvalue() == ESC_INIT + b"\x1bt\x00\x81\n"


def test_text_bytes_match_python_escpos(t88v: PrinterProfile) -> None:
    # Shared tables and remembered code page choices must not change a single byte.
    from drivers.escpos._lib import escpos_printer

    lines = ["Grüße € 49,00", "‰ Ωμέγα ü", "Привет ß ☃", "€€ ü € ü"]
    reference = escpos_printer.Dummy(profile="TM-T88V")
    for line in lines:
        reference.text(line + "\n")
    for _ in range(2):  # the second round is served from remembered choices
        enc = ReceiptEncoder(t88v)
        for line in lines:
            enc.text(line)
        assert body(enc) == reference.output


# -- barcodes --------------------------------------------------------------------------


def test_code128_gets_code_set_b(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.barcode("ORDER-12345", Symbology.CODE128)
    assert body(enc) == (
        b"\x1ba\x01"  # centered
        b"\x1dh\x40"  # height 64
        b"\x1dw\x02"  # module width 2
        b"\x1df\x00"  # HRI font A
        b"\x1dH\x02"  # HRI below
        b"\x1dkI\x0d{BORDER-12345"  # function B, CODE128, 13 bytes
        b"\x1ba\x00"
    )


def test_code128_escapes_brace_and_keeps_callers_code_set(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.barcode("a{b", Symbology.CODE128, hri=False, align=Align.LEFT)
    enc.barcode("{C1234", Symbology.CODE128, align=Align.LEFT)
    out = body(enc)
    assert b"\x1dH\x00\x1dkI\x06{Ba{{b" in out
    assert b"\x1dkI\x06{C1234" in out
    assert b"\x1ba" not in out


def test_ean13_uses_function_a(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.barcode("400638133393", Symbology.EAN13, height=80, module_width=3, align=Align.RIGHT)
    assert body(enc) == (
        b"\x1ba\x02\x1dh\x50\x1dw\x03\x1df\x00\x1dH\x02\x1dk\x02400638133393\x00\x1ba\x00"
    )


@pytest.mark.parametrize(
    ("data", "symbology", "number"),
    [
        ("4006381333931", Symbology.EAN13, 2),
        ("96385074", Symbology.EAN8, 3),
        ("036000291452", Symbology.UPCA, 0),
        ("CODE 39", Symbology.CODE39, 4),
        ("12345678", Symbology.ITF, 5),
        ("A40156B", Symbology.CODABAR, 6),
    ],
)
def test_function_a_symbologies(
    t88v: PrinterProfile, data: str, symbology: Symbology, number: int
) -> None:
    enc = ReceiptEncoder(t88v)
    enc.barcode(data, symbology)
    assert b"\x1dk" + bytes([number]) + data.encode() + b"\x00" in body(enc)


def test_code128_drawn_as_image_without_function_b(t88v: PrinterProfile) -> None:
    profile = dataclasses.replace(t88v, barcode_b=False)
    enc = ReceiptEncoder(profile)
    enc.barcode("ORDER-12345", Symbology.CODE128)
    out = body(enc)
    assert b"\x1dk" not in out
    (image,) = rasters(out)
    assert image.width == profile.width_px  # centered by padding to the paper width
    assert decode(image) == ["ORDER-12345"]


def test_code128_image_needs_raster() -> None:
    profile = dataclasses.replace(load_profile("TM-U220"), barcode_b=False)
    with pytest.raises(UnsupportedFeature):
        ReceiptEncoder(profile).barcode("X1", Symbology.CODE128)


@pytest.mark.parametrize(
    ("data", "symbology", "message"),
    [
        ("abc", Symbology.EAN13, "EAN13 needs 12 or 13 digits, got 'abc'"),
        ("4006381333932", Symbology.EAN13, "check digit of '4006381333932' should be 1"),
        ("1234567", Symbology.EAN13, "EAN13 needs 12 or 13 digits"),
        ("123456", Symbology.EAN8, "EAN8 needs 7 or 8 digits"),
        ("96385075", Symbology.EAN8, "should be 4"),
        ("03600029145", Symbology.UPCA, ""),  # valid: 11 digits, the printer adds the check
        ("036000291453", Symbology.UPCA, "should be 2"),
        ("lower", Symbology.CODE39, "CODE39 takes"),
        ("123", Symbology.ITF, "ITF needs an even number"),
        ("12345", Symbology.CODABAR, "CODABAR needs a start and stop letter"),
        ("", Symbology.CODE128, "CODE128 needs at least one character"),
        ("tab\there", Symbology.CODE128, "printable ASCII"),
        ("naïve", Symbology.CODE128, "printable ASCII"),
        ("x" * 254, Symbology.CODE128, "1-253"),
        ("{B", Symbology.CODE128, "1-253"),
    ],
)
def test_validate_barcode(data: str, symbology: Symbology, message: str) -> None:
    if not message:
        validate_barcode(data, symbology)
        return
    with pytest.raises(EncodingError) as info:
        validate_barcode(data, symbology)
    assert message in str(info.value)


def test_validate_barcode_accepts_limits() -> None:
    validate_barcode("x" * 253, Symbology.CODE128)
    validate_barcode("*ABC*", Symbology.CODE39)
    validate_barcode("4006381333931", Symbology.EAN13)


def test_bad_barcode_adds_no_bytes(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("before")
    snapshot = enc.getvalue()
    with pytest.raises(EncodingError):
        enc.barcode("abc", Symbology.EAN13)
    with pytest.raises(EncodingError, match="height"):
        enc.barcode("ORDER", Symbology.CODE128, height=0)
    with pytest.raises(EncodingError, match="module width"):
        enc.barcode("ORDER", Symbology.CODE128, module_width=7)
    assert enc.getvalue() == snapshot


# -- QR ----------------------------------------------------------------------------


def test_native_qr(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    data = "https://example.com/r/12345"
    enc.qr(data, module_size=5, error_level=QrErrorLevel.Q)
    store_len = (len(data) + 3).to_bytes(2, "little")
    assert body(enc) == (
        b"\x1ba\x01"
        b"\x1d(k\x04\x00\x31\x41\x32\x00"  # fn 165: model 2
        b"\x1d(k\x03\x00\x31\x43\x05"  # fn 167: module size 5
        b"\x1d(k\x03\x00\x31\x45\x32"  # fn 169: error level Q
        b"\x1d(k" + store_len + b"\x31\x50\x30" + data.encode() +  # fn 180: store
        b"\x1d(k\x03\x00\x31\x51\x30"  # fn 181: print
        b"\x1ba\x00"
    )


def test_raster_qr_when_not_native(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(dataclasses.replace(t88v, qr_native=False))
    enc.qr("https://example.com/r/12345", align=Align.LEFT)
    out = body(enc)
    assert b"\x1d(k" not in out
    (image,) = rasters(out)
    assert decode(image) == ["https://example.com/r/12345"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": ""}, "empty"),
        ({"data": "x", "module_size": 0}, "module size"),
        ({"data": "x", "module_size": 17}, "module size"),
        ({"data": "x" * 1274, "error_level": QrErrorLevel.H}, "at most 1273"),
    ],
)
def test_qr_errors(t88v: PrinterProfile, kwargs: dict[str, object], message: str) -> None:
    enc = ReceiptEncoder(t88v)
    with pytest.raises(EncodingError, match=message):
        enc.qr(**kwargs)  # type: ignore[arg-type]
    assert enc.getvalue() == ESC_INIT


def test_raster_qr_too_big_for_paper(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(dataclasses.replace(t88v, qr_native=False))
    with pytest.raises(EncodingError, match="too wide"):
        enc.qr("x" * 1000, module_size=16)
    assert enc.getvalue() == ESC_INIT


# -- images ------------------------------------------------------------------------


def test_wide_image_is_scaled_to_paper(t88v: PrinterProfile) -> None:
    picture = Image.new("RGB", (1024, 100), "white")
    ImageDraw.Draw(picture).rectangle((0, 0, 511, 99), fill="black")  # left half black
    enc = ReceiptEncoder(t88v)
    enc.image(picture, align=Align.LEFT)
    (image,) = rasters(body(enc))
    assert image.size == (512, 50)
    assert image.getpixel((10, 25)) == 0 and image.getpixel((500, 25)) == 255


def test_right_aligned_image_is_padded(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.image(Image.new("L", (64, 8), 0), align=Align.RIGHT)
    (image,) = rasters(body(enc))
    assert image.width == 512
    assert image.getpixel((0, 4)) == 255 and image.getpixel((511, 4)) == 0


def test_image_needs_raster() -> None:
    with pytest.raises(UnsupportedFeature):
        ReceiptEncoder(load_profile("TM-U220")).image(Image.new("L", (8, 8)))


# -- paper handling and drawer -----------------------------------------------------


def test_feed(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.feed(3)
    enc.feed(0)
    assert body(enc) == b"\x1bd\x03"
    with pytest.raises(EncodingError):
        enc.feed(256)


def test_cut_feeds_then_cuts(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.cut()
    assert body(enc) == b"\x1bd\x06\x1dV\x00"
    enc = ReceiptEncoder(t88v)
    enc.cut(partial=True)
    assert body(enc) == b"\x1bd\x06\x1dV\x01"


def test_partial_cut_falls_back_to_full(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(dataclasses.replace(t88v, partial_cut=False))
    enc.cut(partial=True)
    assert body(enc).endswith(b"\x1dV\x00")


def test_no_cutter_only_feeds() -> None:
    enc = ReceiptEncoder(load_profile("ZJ-5870"))
    enc.cut()
    assert body(enc) == b"\x1bd\x06"


def test_drawer_kick(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.drawer(2)
    enc.drawer(5, on_ms=200)
    assert body(enc) == b"\x1bp\x00\x32\x32" + b"\x1bp\x01\x64\x64"
    assert drawer_kick_bytes(2) == b"\x1bp\x00\x32\x32"


@pytest.mark.parametrize(("pin", "on_ms"), [(3, 100), (2, 0), (2, 600)])
def test_drawer_rejects(t88v: PrinterProfile, pin: int, on_ms: int) -> None:
    with pytest.raises(EncodingError):
        ReceiptEncoder(t88v).drawer(pin, on_ms)


def test_drawer_unsupported_on_display() -> None:
    with pytest.raises(UnsupportedFeature):
        ReceiptEncoder(load_profile("AF-240")).drawer(2)


def test_whole_receipt_is_one_byte_string(t88v: PrinterProfile) -> None:
    enc = ReceiptEncoder(t88v)
    enc.text("Grüße aus Wien", bold=True, align=Align.CENTER, size=TextSize.DOUBLE)
    enc.text("2 x Shirt                          € 49,00")
    enc.barcode("ORDER-12345", Symbology.CODE128)
    enc.qr("https://example.com/r/12345")
    enc.feed(2)
    enc.cut()
    enc.drawer(2)
    out = enc.getvalue()
    assert out.startswith(ESC_INIT)
    assert out.index(b"{BORDER-12345") < out.index(b"1P0https://") < out.index(b"\x1dV\x00")
    assert out.endswith(b"\x1dV\x00\x1bp\x00\x32\x32")
    assert enc.getvalue() == out  # getvalue does not consume


@pytest.mark.parametrize(
    "text",
    [
        "Grüße € 49,00\n‰ Ωμέγα ü\nПривет ß ☃\n€€ ü € ü\n",
        "plain ascii first\nthen € and ñ\nthen Ω and ü and € again\n",
        "emoji 😀 has no page\n中文 text goes whole\n",
        "€" * 50 + "\n" + "x" * 500 + "\n",
    ],
)
def test_one_long_text_matches_python_escpos(t88v: PrinterProfile, text: str) -> None:
    from drivers.escpos._lib import escpos_printer

    reference = escpos_printer.Dummy(profile="TM-T88V")
    reference.text(text)
    enc = ReceiptEncoder(t88v)
    enc.text(text)
    assert body(enc) == reference.output
