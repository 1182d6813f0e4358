"""Render the emulated paper as plain text or as a PNG.

The PNG is drawn at the printer's width in dots. Barcodes and QR codes are drawn from
their data (python-barcode modules, ``qrcode`` matrices) with quiet zones, so a barcode
reader decodes them from the image exactly as from a real receipt.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import barcode  # type: ignore[import-untyped]
import qrcode  # type: ignore[import-untyped]
from PIL import Image, ImageDraw, ImageFont

from drivers.escpos.paper import (
    Align,
    Barcode,
    Cut,
    DrawerPulse,
    Feed,
    Font,
    Paper,
    QrCode,
    RasterImage,
    Span,
    Symbology,
    TextLine,
    TextStyle,
)

__all__ = ["CUT_LINE", "PARTIAL_CUT_LINE", "render_png", "render_text"]

CUT_LINE = "- - - - - - 8< - - - - - -"
PARTIAL_CUT_LINE = "- - - - - - 8< partial - - - - - -"

_TEXT_LINE_DOTS = 30  # default line spacing: 1/6 inch at 180 dpi
_LINE_GAP = 6  # dots between text lines beyond the character cell
_QUIET_MODULES = 10  # quiet zone each side of a 1D barcode
_QR_BORDER = 4
_CUT_DOTS = 24
_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
_MONO_FILES = {False: "DejaVuSansMono.ttf", True: "DejaVuSansMono-Bold.ttf"}

# ESC/POS symbology -> python-barcode name (UPC-E, CODE93 and GS1 DataBar have none).
_BARCODE_CLASSES = {
    Symbology.UPC_A: "upca",
    Symbology.EAN13: "ean13",
    Symbology.EAN8: "ean8",
    Symbology.CODE39: "code39",
    Symbology.ITF: "itf",
    Symbology.CODABAR: "codabar",
    Symbology.CODE128: "code128",
    Symbology.GS1_128: "code128",
}
_QR_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


# -- text ------------------------------------------------------------------------------------
def _text_line(line: TextLine) -> str:
    if not line.spans:
        return ""
    free = max(line.columns - line.width_columns, 0)
    pad = {Align.LEFT: 0, Align.CENTER: free // 2, Align.RIGHT: free}[line.align]
    return " " * pad + line.text


def render_text(paper: Paper) -> str:
    """One line per printed line; alignment applied by padding to the line's columns.

    Barcodes, QR codes, images, cuts and drawer pulses appear as bracketed marker lines.
    """
    lines: list[str] = []
    for element in paper.elements:
        if isinstance(element, TextLine):
            lines.append(_text_line(element))
        elif isinstance(element, Barcode):
            lines.append(f"[BARCODE {element.symbology} {element.data}]")
        elif isinstance(element, QrCode):
            lines.append(f"[QR {element.data}]")
        elif isinstance(element, RasterImage):
            lines.append(f"[IMAGE {element.image.width}x{element.image.height}]")
        elif isinstance(element, Feed):
            lines.extend([""] * (element.dots // _TEXT_LINE_DOTS))
        elif isinstance(element, Cut):
            lines.append(PARTIAL_CUT_LINE if element.partial else CUT_LINE)
        else:
            lines.append(f"[DRAWER pin {element.pin}]")
    return "".join(line + "\n" for line in lines)


# -- fonts -----------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _font_file(bold: bool) -> Path | None:
    name = _MONO_FILES[bold]
    for folder in _FONT_DIRS:
        if folder.is_dir():
            for found in folder.rglob(name):
                return found
    return None


FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=32)
def _font(bold: bool, cell_width: int) -> tuple[FontType, bool]:
    """A monospace font whose advance is about ``cell_width``; the flag says it is bold."""
    path = _font_file(bold) or _font_file(False)
    if path is None:
        return ImageFont.load_default(cell_width * 5 // 3), False
    probe = ImageFont.truetype(str(path), 100)
    size = max(int(100 * cell_width / probe.getlength("M")), 6)
    return ImageFont.truetype(str(path), size), path.name == _MONO_FILES[True]


def _cell(font: Font, width_px: int, columns_a: int, columns_b: int) -> tuple[int, int]:
    """Character cell in dots: font A 12x24, font B 9x17 on an 80 mm TM head."""
    if font is Font.B:
        width = width_px // columns_b
        return width, round(width * 17 / 9)
    width = width_px // columns_a
    return width, width * 2


# -- drawing ---------------------------------------------------------------------------------
def _span_image(span: Span, cell: tuple[int, int]) -> Image.Image:
    cell_w, cell_h = cell
    style = span.style
    image = Image.new("L", (max(len(span.text), 1) * cell_w, cell_h), 255)
    draw = ImageDraw.Draw(image)
    want_bold = style.bold or style.double_strike
    font, is_bold = _font(want_bold, cell_w)
    stroke = 1 if want_bold and not is_bold else 0
    for index, char in enumerate(span.text):
        draw.text((index * cell_w, 0), char, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
    if style.underline:
        thickness = 2 if style.underline >= 2 else 1
        draw.rectangle((0, cell_h - thickness, image.width, cell_h - 1), fill=0)
    if style.inverse:
        image = Image.eval(image, lambda value: 255 - value)
    if style.width != 1 or style.height != 1:
        image = image.resize(
            (image.width * style.width, image.height * style.height), Image.Resampling.NEAREST
        )
    if style.upside_down:
        image = image.rotate(180)
    return image


def _place(strip_width: int, content_width: int, align: Align) -> int:
    free = max(strip_width - content_width, 0)
    return {Align.LEFT: 0, Align.CENTER: free // 2, Align.RIGHT: free}[align]


def _text_strip(line: TextLine, width_px: int, columns_a: int, columns_b: int) -> Image.Image:
    if not line.spans:
        return Image.new("L", (width_px, max(line.spacing, 1)), 255)
    parts = [
        _span_image(span, _cell(span.style.font, width_px, columns_a, columns_b))
        for span in line.spans
    ]
    height = max(part.height for part in parts)
    content = sum(part.width for part in parts)
    # The paper advances by the line spacing, or by the characters' height if taller.
    strip = Image.new("L", (width_px, max(height, line.spacing)), 255)
    x = _place(width_px, content, line.align)
    for part in parts:
        strip.paste(part, (x, height - part.height))  # characters stand on one baseline
        x += part.width
    return strip


def _barcode_modules(symbology: Symbology, data: str) -> str | None:
    name = _BARCODE_CLASSES.get(symbology)
    if name is None:
        return None
    cls = barcode.get_barcode_class(name)
    try:
        code = cls(data, add_checksum=False) if name == "code39" else cls(data)
        modules: list[str] = code.build()
    except Exception:  # noqa: BLE001 - python-barcode raises assorted errors on bad data
        return None
    return "".join(modules)


def _barcode_strip(element: Barcode, width_px: int, columns_a: int, columns_b: int) -> Image.Image:
    modules = _barcode_modules(element.symbology, element.data)
    hri = TextLine([Span(element.data, TextStyle())], Align.CENTER, columns_a)
    hri_strip = _text_strip(hri, width_px, columns_a, columns_b)
    height = max(element.height, 1)
    if modules is None:
        # No renderer for this symbology: a framed box with the data, clearly not scannable.
        box = Image.new("L", (width_px, height), 255)
        draw = ImageDraw.Draw(box)
        draw.rectangle((0, 0, width_px - 1, height - 1), outline=0, width=2)
        box.paste(hri_strip, (0, (height - hri_strip.height) // 2))
        return box
    total = len(modules) + 2 * _QUIET_MODULES
    module = max(min(element.module_width, width_px // total), 1)
    bars = Image.new("L", (total * module, height), 255)
    draw = ImageDraw.Draw(bars)
    for index, bit in enumerate(modules):
        if bit == "1":
            x = (index + _QUIET_MODULES) * module
            draw.rectangle((x, 0, x + module - 1, height - 1), fill=0)
    above = element.hri_position in (1, 3)
    below = element.hri_position in (2, 3)
    strip = Image.new(
        "L", (width_px, height + hri_strip.height * (int(above) + int(below)) + _LINE_GAP), 255
    )
    y = 0
    if above:
        strip.paste(hri_strip, (0, y))
        y += hri_strip.height
    strip.paste(bars, (_place(width_px, bars.width, element.align), y))
    if below:
        strip.paste(hri_strip, (0, y + height))
    return strip


def _qr_strip(element: QrCode, width_px: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=_QR_EC.get(element.ec_level), border=_QR_BORDER)
    code.add_data(element.data.encode("utf-8"))
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    module = max(element.module_size, 1)
    size = len(matrix) * module
    symbol = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(symbol)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                x, y = col * module, row * module
                draw.rectangle((x, y, x + module - 1, y + module - 1), fill=0)
    strip = Image.new("L", (max(width_px, size), size), 255)
    strip.paste(symbol, (_place(width_px, size, element.align), 0))
    return strip


def _image_strip(element: RasterImage, width_px: int) -> Image.Image:
    image = element.image.convert("L")
    strip = Image.new("L", (max(width_px, image.width), image.height), 255)
    strip.paste(image, (_place(width_px, image.width, element.align), 0))
    return strip


def _cut_strip(element: Cut, width_px: int) -> Image.Image:
    strip = Image.new("L", (width_px, _CUT_DOTS), 255)
    draw = ImageDraw.Draw(strip)
    y = _CUT_DOTS // 2
    dash = 4 if element.partial else 8
    for x in range(0, width_px, dash * 2):
        draw.line((x, y, x + dash - 1, y), fill=0 if not element.partial else 96)
    return strip


def render_png(paper: Paper, width_px: int, columns_a: int, columns_b: int) -> bytes:
    """The paper as a greyscale PNG ``width_px`` dots wide (black = printed)."""
    strips: list[Image.Image] = []
    for element in paper.elements:
        if isinstance(element, TextLine):
            strips.append(_text_strip(element, width_px, columns_a, columns_b))
        elif isinstance(element, Barcode):
            strips.append(_barcode_strip(element, width_px, columns_a, columns_b))
        elif isinstance(element, QrCode):
            strips.append(_qr_strip(element, width_px))
        elif isinstance(element, RasterImage):
            strips.append(_image_strip(element, width_px))
        elif isinstance(element, Feed):
            if element.dots:
                strips.append(Image.new("L", (width_px, element.dots), 255))
        elif isinstance(element, Cut):
            strips.append(_cut_strip(element, width_px))
        elif isinstance(element, DrawerPulse):
            continue  # a drawer kick leaves no mark on the paper
    width = max([width_px, *(strip.width for strip in strips)])
    page = Image.new("L", (width, max(sum(strip.height for strip in strips), 1)), 255)
    y = 0
    for strip in strips:
        page.paste(strip, (0, y))
        y += strip.height
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()
