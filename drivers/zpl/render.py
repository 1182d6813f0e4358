"""Draw a parsed :class:`~drivers.zpl.format.Label` the way a Zebra prints it.

The label is a 1-bit image the size of the label in dots (white background, black ink),
because a thermal head knows no grey. Each field becomes a 1-bit ink mask that is
stamped black, stamped white (``^GB`` colour W), or XOR-ed with what is already printed
(``^FR``, ``^LRY``). Barcodes are drawn from their module patterns with whole-dot module
sizes and no quiet zone, so they decode exactly like a printed label; the tag preview in
the daemon uses the same code, so the preview shows what prints.
"""

from __future__ import annotations

import io

from PIL import Image, ImageChops, ImageDraw

from drivers.zpl.barcodes import Symbology, linear_modules, matrix_modules
from drivers.zpl.fonts import INK, measure_text, text_mask
from drivers.zpl.format import (
    BarcodeField,
    BoxField,
    Field,
    Justify,
    Label,
    LineColor,
    Rotation,
    TextBlock,
    TextField,
)

__all__ = ["label_png", "label_text", "measure_text", "render_label"]

_WHITE = 255
_BLACK = 0
_BAR_BYTES = bytes.maketrans(b"01", b"\x00\xff")
_TRANSPOSE = {
    Rotation.ROTATED: Image.Transpose.ROTATE_270,  # 90° clockwise
    Rotation.INVERTED: Image.Transpose.ROTATE_180,
    Rotation.BOTTOM_UP: Image.Transpose.ROTATE_90,
}

# A mask and where its top-left lies relative to the field origin (normal orientation).
_Piece = tuple[Image.Image, int, int]


# -- text ------------------------------------------------------------------------------------
def _wrap(field: TextField, block: TextBlock) -> list[tuple[str, bool]]:
    """Lines of a ^FB block and whether each ends a paragraph (those are never justified)."""
    lines: list[tuple[str, bool]] = []
    for paragraph in field.text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            room = block.width - (block.hanging_indent if lines else 0)
            fits = measure_text(candidate, field.height, field.width) <= room
            if not current or block.width <= 0 or fits:
                current = candidate
            else:
                lines.append((current, False))
                current = word
        lines.append((current, True))
    # A Zebra overprints the last line with what does not fit; we drop it instead.
    return lines[: block.max_lines]


def _justified_line(text: str, field: TextField, room: int) -> Image.Image:
    words = text.split()
    masks = [text_mask(word, field.height, field.width)[0] for word in words]
    used = sum(mask.width for mask in masks)
    gap = (room - used) / (len(words) - 1)
    line = Image.new("1", (max(room, 1), masks[0].height), _BLACK)
    x = 0.0
    for mask in masks:
        line.paste(INK, (round(x), 0), mask)
        x += mask.width + gap
    return line


def _block_piece(field: TextField, block: TextBlock) -> _Piece:
    lines = _wrap(field, block)
    top = text_mask("", field.height, field.width)[1]  # negative: room for accents
    pitch = field.height + block.line_spacing
    width = block.width or max(measure_text(text, field.height, field.width) for text, _ in lines)
    rows = -top + pitch * (len(lines) - 1) + field.height
    image = Image.new("1", (max(width, 1), max(rows, 1)), _BLACK)
    for index, (text, ends_paragraph) in enumerate(lines):
        indent = block.hanging_indent if index else 0
        room = width - indent
        y = index * pitch
        words = len(text.split())
        if block.justify is Justify.JUSTIFIED and not ends_paragraph and words > 1:
            image.paste(INK, (indent, y), _justified_line(text, field, room))
            continue
        mask, _ = text_mask(text, field.height, field.width)
        free = room - mask.width
        offset = {Justify.CENTER: free // 2, Justify.RIGHT: free}.get(block.justify, 0)
        image.paste(INK, (indent + max(offset, 0), y), mask)
    return image, 0, top


def _text_piece(field: TextField) -> _Piece:
    if field.block is not None:
        return _block_piece(field, field.block)
    mask, top = text_mask(field.text, field.height, field.width)
    return mask, 0, top


# -- barcodes --------------------------------------------------------------------------------
def _interpretation_height(module_width: int) -> int:
    return max(12, 9 * module_width)


def _linear_piece(field: BarcodeField) -> _Piece:
    modules = linear_modules(field.symbology, field.data)
    strip = Image.frombytes("L", (len(modules), 1), modules.encode("ascii").translate(_BAR_BYTES))
    module = max(field.module_width, 1)
    bars = strip.resize((len(modules) * module, max(field.height, 1)), Image.Resampling.NEAREST)
    bars = bars.convert("1", dither=Image.Dither.NONE)
    if not field.interpretation:
        return bars, 0, 0
    hri, _ = text_mask(field.data, _interpretation_height(module))
    gap = max(2, module)
    hri_rows = hri.height + gap
    width = max(bars.width, hri.width)
    bars_x = (width - bars.width) // 2
    image = Image.new("1", (width, bars.height + hri_rows), _BLACK)
    hri_x = (width - hri.width) // 2
    if field.interpretation_above:
        image.paste(INK, (hri_x, 0), hri)
        image.paste(bars, (bars_x, hri_rows))
        return image, -bars_x, -hri_rows
    image.paste(bars, (bars_x, 0))
    image.paste(INK, (hri_x, bars.height + gap), hri)
    return image, -bars_x, 0


def _matrix_piece(field: BarcodeField) -> _Piece:
    payload = field.data.encode(field.charset, errors="replace")
    rows = matrix_modules(field.symbology, payload, field.error_correction or "M")
    size_x, size_y = len(rows[0]), len(rows)
    cells = bytes(_WHITE if dark else _BLACK for row in rows for dark in row)
    module = max(field.module_width, 1)
    symbol = Image.frombytes("L", (size_x, size_y), cells).resize(
        (size_x * module, size_y * module), Image.Resampling.NEAREST
    )
    symbol = symbol.convert("1", dither=Image.Dither.NONE)
    return symbol, 0, -symbol.height if field.anchor_bottom else 0


def _barcode_piece(field: BarcodeField) -> _Piece:
    if field.symbology in (Symbology.QR, Symbology.DATAMATRIX):
        return _matrix_piece(field)
    return _linear_piece(field)


# -- boxes -----------------------------------------------------------------------------------
def _box_piece(field: BoxField) -> _Piece:
    width, height, thickness = field.width, field.height, field.thickness
    image = Image.new("1", (width, height), _BLACK)
    draw = ImageDraw.Draw(image)
    # Zebra: rounding 1..8 of half the shorter side.
    radius = field.rounding * min(width, height) // 16
    outer = (0, 0, width - 1, height - 1)
    draw.rounded_rectangle(outer, radius=radius, fill=INK)
    if not field.filled:
        inner = (thickness, thickness, width - 1 - thickness, height - 1 - thickness)
        draw.rounded_rectangle(inner, radius=max(radius - thickness, 0), fill=_BLACK)
    return image, 0, 0


# -- the label -------------------------------------------------------------------------------
def _piece(field: Field) -> _Piece:
    if isinstance(field, TextField):
        return _text_piece(field)
    if isinstance(field, BarcodeField):
        return _barcode_piece(field)
    return _box_piece(field)


def _stamp(canvas: Image.Image, field: Field, piece: _Piece) -> None:
    mask, dx, dy = piece
    rotation = getattr(field, "rotation", Rotation.NORMAL)
    if rotation is not Rotation.NORMAL:
        # The rotated field's bounding box starts at the origin (approximation: Zebra
        # anchors rotated ^FT fields differently).
        mask, dx, dy = mask.transpose(_TRANSPOSE[rotation]), 0, 0
    x, y = field.x + dx, field.y + dy
    if field.reverse:
        box = (x, y, x + mask.width, y + mask.height)
        canvas.paste(ImageChops.logical_xor(canvas.crop(box), mask), (x, y))
    elif isinstance(field, BoxField) and field.color is LineColor.WHITE:
        canvas.paste(_WHITE, (x, y), mask)
    else:
        canvas.paste(_BLACK, (x, y), mask)


def render_label(label: Label) -> Image.Image:
    """The printed label as a 1-bit image, ``label.width`` x ``label.length`` dots."""
    canvas = Image.new("1", (max(label.width, 1), max(label.length, 1)), _WHITE)
    for field in label.fields:
        _stamp(canvas, field, _piece(field))
    return canvas


def label_png(label: Label) -> bytes:
    """PNG bytes of :func:`render_label`, with the label's dpi recorded in the file."""
    out = io.BytesIO()
    render_label(label).save(out, format="PNG", dpi=(label.dpi, label.dpi))
    return out.getvalue()


def label_text(label: Label) -> str:
    """A readable list: one line per text field and barcode in format order.

    Barcodes read ``[BARCODE EAN13 4006381333931]``, ``[QR data]``, ``[DATAMATRIX data]``;
    unknown commands the printer would ignore end the list as ``[ignored ^XY ...]``.
    """
    lines: list[str] = []
    for field in label.fields:
        if isinstance(field, TextField):
            lines.append(field.text.replace("\n", " "))
        elif isinstance(field, BarcodeField):
            if field.symbology.is_2d:
                lines.append(f"[{field.symbology} {field.data}]")
            else:
                lines.append(f"[BARCODE {field.symbology} {field.data}]")
    if label.ignored:
        lines.append("[ignored " + " ".join(label.ignored) + "]")
    return "".join(line + "\n" for line in lines)
