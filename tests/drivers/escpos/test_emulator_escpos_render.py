"""The emulated paper renders to text and to a PNG whose barcodes really decode."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from drivers.escpos._lib import escpos_printer
from drivers.escpos.emulator import EscposEmulator
from drivers.escpos.render import CUT_LINE, PARTIAL_CUT_LINE

QR_URL = "https://example.com/r/12345"


def dummy() -> escpos_printer.Dummy:
    return escpos_printer.Dummy(profile="TM-T88V")


def png_of(data: bytes) -> Image.Image:
    emulator = EscposEmulator()
    emulator.receive(data)
    image = Image.open(io.BytesIO(emulator.output_png()))
    image.load()
    return image


def decoded(image: Image.Image) -> list[tuple[str, str]]:
    return [(str(r.format), r.text) for r in zxingcpp.read_barcodes(image)]


def test_code128_and_qr_decode_from_the_png() -> None:
    p = dummy()
    p.text("Order\n")
    p.barcode("{BORDER-12345", "CODE128", function_type="B")
    p.qr(QR_URL, native=True)
    p.cut()
    image = png_of(bytes(p.output))

    assert image.width == 512
    texts = {text for _, text in decoded(image)}
    assert "ORDER-12345" in texts
    assert QR_URL in texts


@pytest.mark.parametrize(
    ("code", "symbology", "function", "expected", "zxing_format"),
    [
        ("4006381333931", "EAN13", "A", "4006381333931", "EAN13"),
        ("01234567890", "UPC-A", "B", "012345678905", "UPCA EAN13"),
        ("ABC-123", "CODE39", "B", "ABC-123", "Code39"),
        ("12345678", "ITF", "A", "12345678", "ITF"),
        ("{BA{{Z-9", "CODE128", "B", "A{Z-9", "Code128"),
    ],
)
def test_each_1d_symbology_decodes(
    code: str, symbology: str, function: str, expected: str, zxing_format: str
) -> None:
    p = dummy()
    p.barcode(code, symbology, function_type=function)
    image = png_of(bytes(p.output))

    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    text = results[0].text
    if symbology == "UPC-A":
        # A UPC-A symbol is an EAN-13 one with a leading 0; readers differ in reporting it.
        text = text[-12:]
    assert text == expected
    assert str(results[0].format).replace(" ", "").replace("-", "") in zxing_format


@pytest.mark.parametrize("ec", [0, 1, 2, 3])
def test_qr_with_unicode_and_every_error_level_decodes(ec: int) -> None:
    data = "Grüße aus Wien € https://example.com/r/ä?x=1"
    p = dummy()
    p.qr(data, native=True, ec=ec, size=4)
    assert [text for _, text in decoded(png_of(bytes(p.output)))] == [data]


def test_non_native_qr_is_printed_as_an_image_and_still_decodes() -> None:
    p = dummy()
    p.qr(QR_URL, native=False, size=4)
    assert [text for _, text in decoded(png_of(bytes(p.output)))] == [QR_URL]


def test_raster_image_is_pasted_as_received() -> None:
    picture = Image.new("1", (64, 32), 255)
    for x in range(0, 64, 2):
        for y in range(32):
            picture.putpixel((x, y), 0)
    p = dummy()
    p.image(picture, impl="bitImageRaster", center=False)
    image = png_of(bytes(p.output)).convert("L")
    assert image.crop((0, 0, 64, 32)).tobytes() == picture.convert("L").tobytes()


def test_text_is_drawn_and_double_size_is_bigger() -> None:
    p = dummy()
    p.text("HELLO\n")
    normal = png_of(bytes(p.output))
    p = dummy()
    p.set(double_height=True, double_width=True)
    p.text("HELLO\n")
    double = png_of(bytes(p.output))

    def ink_box(image: Image.Image) -> tuple[int, int]:
        box = Image.eval(image.convert("L"), lambda v: 255 - v).getbbox()
        assert box is not None, "nothing was drawn"
        return box[2] - box[0], box[3] - box[1]

    normal_w, normal_h = ink_box(normal)
    double_w, double_h = ink_box(double)
    assert 40 <= normal_w <= 5 * 12 and normal_h >= 10
    assert double_w >= 2 * normal_w - 4 and double_h >= 2 * normal_h - 4


def test_bold_prints_more_ink() -> None:
    def ink(data: bytes) -> int:
        histogram = png_of(data).convert("L").histogram()
        return sum(count for value, count in enumerate(histogram) if value < 128)

    assert ink(b"\x1bE\x01BOLD TEXT\n") > ink(b"BOLD TEXT\n") * 1.15


def test_output_text_markers() -> None:
    p = dummy()
    p.set(align="center")
    p.text("Shop\n")
    p.barcode("{BORDER-12345", "CODE128", function_type="B")
    p.qr(QR_URL, native=True)
    p.image(Image.new("1", (20, 10), 0), impl="bitImageRaster")
    p.cut()
    p.cut(mode="PART")
    p.cashdraw(2)
    emulator = EscposEmulator()
    emulator.receive(bytes(p.output))

    lines = emulator.output_text().splitlines()
    assert lines[0] == " " * 19 + "Shop"
    assert "[BARCODE CODE128 ORDER-12345]" in lines
    assert f"[QR {QR_URL}]" in lines
    assert "[IMAGE 24x10]" in lines  # raster width is whole bytes
    # python-escpos feeds 6 lines before each cut, so the paper reaches the cutter.
    assert [line for line in lines if line][-3:] == [CUT_LINE, PARTIAL_CUT_LINE, "[DRAWER pin 2]"]
    assert "8<" in CUT_LINE


def test_empty_paper_renders() -> None:
    emulator = EscposEmulator()
    assert emulator.output_text() == ""
    image = Image.open(io.BytesIO(emulator.output_png()))
    assert image.width == 512
