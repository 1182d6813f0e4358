"""The receipt document: a list of typed blocks, validated at the request.

This is the body of ``POST /v1/printers/{id}/receipts`` (the block form) and what a
template turns receipt data into. Everything that could fail later at the printer is
checked here, so a bad document is a 422 naming the field, never a half-printed
receipt: unknown fields, wrong types, bounds, barcode data against its symbology, QR
capacity, images that do not decode, and control characters (printer commands come from
blocks, never from text).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from drivers.errors import EncodingError
from drivers.escpos.encoder import (
    Align,
    Font,
    QrErrorLevel,
    Symbology,
    TextSize,
    validate_barcode,
)

__all__ = [
    "MAX_BLOCKS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGES",
    "MAX_TEXT",
    "Align",
    "BarcodeBlock",
    "Block",
    "check_image_budget",
    "BlockType",
    "ColumnsBlock",
    "CutBlock",
    "DrawerBlock",
    "FeedBlock",
    "Font",
    "ImageBlock",
    "QrBlock",
    "ReceiptDocument",
    "RuleBlock",
    "TextBlock",
    "TextSize",
]

#: Blocks per document; a long receipt is a few hundred.
MAX_BLOCKS = 1000
#: Characters in one text block.
MAX_TEXT = 10_000
#: Characters on either side of a ``columns`` block.
MAX_COLUMN_TEXT = 1_000
#: Decoded size of one image.
MAX_IMAGE_BYTES = 1_000_000
#: Pixels of one image (width × height); a receipt-wide logo is ~576 × 300.
MAX_IMAGE_PIXELS = 4_000_000
#: Widest/tallest image side accepted before scaling to the paper.
MAX_IMAGE_SIDE = 8_000
#: Images in one receipt (a logo, a coupon, a signature: a handful in practice).
MAX_IMAGES = 16
MAX_BARCODE_DATA = 255

# Image formats a browser or a POS app produces; anything else is refused rather than
# handed to a less-used Pillow decoder.
_IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP")

# Byte-mode capacity of a version-40 QR symbol per error level (what the printer's
# QR command and the encoder accept).
_QR_MAX_BYTES: dict[QrErrorLevel, int] = {
    QrErrorLevel.L: 2953,
    QrErrorLevel.M: 2331,
    QrErrorLevel.Q: 1663,
    QrErrorLevel.H: 1273,
}


class BlockType(StrEnum):
    """The ``type`` of a block."""

    TEXT = "text"
    COLUMNS = "columns"
    RULE = "rule"
    BARCODE = "barcode"
    QR = "qr"
    IMAGE = "image"
    FEED = "feed"
    CUT = "cut"
    DRAWER = "drawer"


# Unicode category Cc is exactly these ranges; a regex finds them without a Python-level
# loop over every character of every receipt line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _check_printable(text: str, *, newlines: bool) -> str:
    found = (_CONTROL_BUT_NEWLINE if newlines else _CONTROL).search(text)
    if found is not None:
        # An ESC or GS in text would be a printer command smuggled past the blocks.
        raise PydanticCustomError(
            "control_character",
            "control character {char} is not allowed in text",
            {"char": f"U+{ord(found.group()):04X}"},
        )
    if unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def _multiline(text: str) -> str:
    return _check_printable(text, newlines=True)


def _single_line(text: str) -> str:
    return _check_printable(text, newlines=False)


MultilineText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_multiline)]
ColumnText = Annotated[str, Field(max_length=MAX_COLUMN_TEXT), AfterValidator(_single_line)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextBlock(_Block):
    """Text, word-wrapped to the paper; ``\\n`` starts a new line."""

    type: Literal["text"] = "text"
    text: MultilineText
    align: Align = Align.LEFT
    bold: bool = False
    underline: bool = False
    size: TextSize = TextSize.NORMAL
    font: Font = Font.A


class ColumnsBlock(_Block):
    """A left text and a right-aligned text on one line (an item and its price)."""

    type: Literal["columns"] = "columns"
    left: ColumnText
    right: ColumnText
    bold: bool = False
    size: TextSize = TextSize.NORMAL
    font: Font = Font.A


class RuleBlock(_Block):
    """A horizontal line of ``char`` across the paper."""

    type: Literal["rule"] = "rule"
    char: Annotated[str, Field(min_length=1, max_length=1), AfterValidator(_single_line)] = "-"
    font: Font = Font.A

    @field_validator("char")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if value == " ":
            # Not an error on paper, but always a mistake in a document.
            raise PydanticCustomError("rule_char", "a rule needs a visible character")
        return value


class BarcodeBlock(_Block):
    """A 1D barcode; ``data`` is checked against the symbology here, not at the printer."""

    type: Literal["barcode"] = "barcode"
    symbology: Symbology
    data: Annotated[str, Field(min_length=1, max_length=MAX_BARCODE_DATA)]
    height: Annotated[int, Field(ge=1, le=255)] = 64
    module_width: Annotated[int, Field(ge=2, le=6)] = 2
    hri: bool = True
    align: Align = Align.CENTER

    @field_validator("data")
    @classmethod
    def _data_fits_symbology(cls, value: str, info: ValidationInfo) -> str:
        symbology = info.data.get("symbology")
        if symbology is None:
            return value  # the symbology itself is already reported as invalid
        try:
            validate_barcode(value, symbology)
        except EncodingError as exc:
            raise PydanticCustomError("barcode_data", "{reason}", {"reason": str(exc)}) from exc
        return value


class QrBlock(_Block):
    """A QR code; data must fit a version-40 symbol at the chosen error level."""

    type: Literal["qr"] = "qr"
    data: Annotated[str, Field(min_length=1, max_length=2953)]
    module_size: Annotated[int, Field(ge=1, le=16)] = 6
    error_level: QrErrorLevel = QrErrorLevel.M
    align: Align = Align.CENTER

    @model_validator(mode="after")
    def _fits(self) -> QrBlock:
        size = len(self.data.encode("utf-8"))
        capacity = _QR_MAX_BYTES[self.error_level]
        if size > capacity:
            raise PydanticCustomError(
                "qr_capacity",
                "QR data is {size} UTF-8 bytes; at error level {level} a QR code holds at"
                " most {capacity}",
                {"size": size, "level": str(self.error_level), "capacity": capacity},
            )
        return self


class ImageBlock(_Block):
    """A picture (a logo), base64 in ``png``; PNG, JPEG, GIF and BMP are accepted.

    Wider images are scaled down to the paper when printed.
    """

    type: Literal["image"] = "image"
    png: Annotated[str, Field(min_length=1, max_length=(MAX_IMAGE_BYTES * 4) // 3 + 8)]
    align: Align = Align.CENTER

    @field_validator("png")
    @classmethod
    def _decodes(cls, value: str) -> str:
        _decode_image(value)
        return value

    def open_image(self) -> Image.Image:
        """The decoded picture, loaded (it was verified when the block was made)."""
        # Decoding again costs ~1 ms per MB; keeping the bytes on the model would
        # double the memory of every queued document instead.
        image = Image.open(io.BytesIO(_decode_image(self.png)), formats=_IMAGE_FORMATS)
        image.load()
        return image


def _decode_image(value: str) -> bytes:
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PydanticCustomError(
            "image_base64", "not valid base64: {err}", {"err": str(exc)}
        ) from exc
    if len(raw) > MAX_IMAGE_BYTES:
        raise PydanticCustomError(
            "image_size", "image is {n} bytes; at most {m}", {"n": len(raw), "m": MAX_IMAGE_BYTES}
        )
    try:
        # Image.open reads only the header: the size check below runs before any
        # pixel is decoded, so a decompression bomb is refused cheaply.
        with Image.open(io.BytesIO(raw), formats=_IMAGE_FORMATS) as image:
            width, height = image.size
            if (
                width * height > MAX_IMAGE_PIXELS
                or width > MAX_IMAGE_SIDE
                or height > MAX_IMAGE_SIDE
            ):
                raise PydanticCustomError(
                    "image_pixels",
                    "image is {w}×{h} pixels; at most {m} pixels and {s} per side",
                    {"w": width, "h": height, "m": MAX_IMAGE_PIXELS, "s": MAX_IMAGE_SIDE},
                )
            image.verify()
    except UnidentifiedImageError as exc:
        raise PydanticCustomError(
            "image_format", "not a readable image (PNG, JPEG, GIF or BMP)"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PydanticCustomError):
            raise
        raise PydanticCustomError(
            "image_format",
            "not a readable image (PNG, JPEG, GIF or BMP): {err}",
            {"err": str(exc)},
        ) from exc
    return raw


class FeedBlock(_Block):
    """Feed ``lines`` blank lines."""

    type: Literal["feed"] = "feed"
    lines: Annotated[int, Field(ge=1, le=255)] = 1


class CutBlock(_Block):
    """Cut the paper (feeding it past the cutter first)."""

    type: Literal["cut"] = "cut"
    partial: bool = False


class DrawerBlock(_Block):
    """Pulse a cash-drawer pin (2 or 5 on the drawer connector)."""

    type: Literal["drawer"] = "drawer"
    pin: Literal[2, 5] = 2


Block = Annotated[
    TextBlock
    | ColumnsBlock
    | RuleBlock
    | BarcodeBlock
    | QrBlock
    | ImageBlock
    | FeedBlock
    | CutBlock
    | DrawerBlock,
    Field(discriminator="type"),
]


class ReceiptDocument(BaseModel):
    """A receipt as blocks, printed top to bottom.

    Nothing is added: the paper is cut only where the document has a ``cut`` block.
    """

    model_config = ConfigDict(extra="forbid")

    blocks: Annotated[list[Block], Field(min_length=1, max_length=MAX_BLOCKS)]

    @field_validator("blocks")
    @classmethod
    def _image_budget(cls, blocks: list[Block]) -> list[Block]:
        return check_image_budget(blocks)

    @property
    def has_images(self) -> bool:
        return any(isinstance(block, ImageBlock) for block in self.blocks)


def check_image_budget(blocks: list[Block]) -> list[Block]:
    """Refuse more images than a receipt has room for: each is decoded and scaled, and
    hundreds of them would tie up the daemon for seconds and make megabytes to send."""
    images = sum(1 for block in blocks if isinstance(block, ImageBlock))
    if images > MAX_IMAGES:
        raise PydanticCustomError(
            "too_many_images",
            "a receipt may hold at most {m} images, this one has {n}",
            {"m": MAX_IMAGES, "n": images},
        )
    return blocks
