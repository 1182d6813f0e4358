"""ReceiptDocument -> ESC/POS bytes for one printer profile.

The bytes are exactly the document: nothing is added. In particular the paper is cut
only where the document has a ``cut`` block, so a client can print several documents
as one strip, or leave the cut to a following document.
"""

from __future__ import annotations

import re

from drivers.errors import DeviceError, EncodingError
from drivers.escpos.encoder import Font, ReceiptEncoder, TextSize
from drivers.escpos.profiles import PrinterProfile
from posbridge.receipts.document import (
    BarcodeBlock,
    Block,
    ColumnsBlock,
    CutBlock,
    DrawerBlock,
    FeedBlock,
    ImageBlock,
    QrBlock,
    ReceiptDocument,
    RuleBlock,
    TextBlock,
)
from posbridge.receipts.layout import columns_lines, rule_line, wrap

__all__ = ["line_columns", "render_document"]

_WIDE = (TextSize.DOUBLE_WIDTH, TextSize.DOUBLE)

# Typographic spaces and the minus sign (Babel puts them into amounts and dates) exist
# in no printer code page; wrapping has already treated the spaces as unbreakable.
_PRINTABLE = str.maketrans(
    {"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\u2212": "-"}
)
_NEEDS_PRINTABLE = re.compile("[\u00a0\u202f\u2007\u2009\u2212]")


def _printable(text: str) -> str:
    # The search is quick; most lines have none of these and need no translation.
    return text.translate(_PRINTABLE) if _NEEDS_PRINTABLE.search(text) else text


def line_columns(
    profile: PrinterProfile, *, font: Font = Font.A, size: TextSize = TextSize.NORMAL
) -> int:
    """Characters per line for ``font`` at ``size`` (double width halves them)."""
    columns = profile.columns_b if font is Font.B else profile.columns_a
    return max(1, columns // 2) if size in _WIDE else columns


def render_document(doc: ReceiptDocument, profile: PrinterProfile) -> bytes:
    """The ESC/POS bytes of ``doc`` for ``profile``; starts with ``ESC @``.

    Raises ``EncodingError`` (or ``UnsupportedFeature`` when the profile lacks what a
    block needs, e.g. font B or a drawer) whose message starts with the block's place,
    ``blocks[3]: ...``.
    """
    encoder = ReceiptEncoder(profile)
    for index, block in enumerate(doc.blocks):
        try:
            _render_block(encoder, profile, block)
        except DeviceError as exc:
            # Keep the class (an unsupported feature is not bad content), add the place.
            raise type(exc)(f"blocks[{index}]: {exc}") from exc
        except (ValueError, TypeError, OSError) as exc:
            raise EncodingError(f"blocks[{index}]: {exc}") from exc
    return encoder.getvalue()


def _render_block(encoder: ReceiptEncoder, profile: PrinterProfile, block: Block) -> None:
    match block:
        case TextBlock():
            width = line_columns(profile, font=block.font, size=block.size)
            lines = wrap(block.text, width)
            encoder.text(
                _printable("\n".join(lines)) + "\n",
                bold=block.bold,
                underline=block.underline,
                size=block.size,
                align=block.align,
                font=block.font,
            )
        case ColumnsBlock():
            width = line_columns(profile, font=block.font, size=block.size)
            lines = columns_lines(block.left, block.right, width)
            encoder.text(
                _printable("\n".join(lines)) + "\n",
                bold=block.bold,
                size=block.size,
                font=block.font,
            )
        case RuleBlock():
            width = line_columns(profile, font=block.font)
            encoder.text(rule_line(block.char, width) + "\n", font=block.font)
        case BarcodeBlock():
            encoder.barcode(
                block.data,
                block.symbology,
                height=block.height,
                module_width=block.module_width,
                hri=block.hri,
                align=block.align,
            )
        case QrBlock():
            encoder.qr(
                block.data,
                module_size=block.module_size,
                error_level=block.error_level,
                align=block.align,
            )
        case ImageBlock():
            with block.open_image() as image:
                encoder.image(image, align=block.align)
        case FeedBlock():
            encoder.feed(block.lines)
        case CutBlock():
            encoder.cut(partial=block.partial)
        case DrawerBlock():
            encoder.drawer(block.pin)
