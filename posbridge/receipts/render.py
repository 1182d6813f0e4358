"""ReceiptDocument -> ESC/POS bytes for one printer profile.

The bytes are exactly the document: nothing is added. In particular the paper is cut
only where the document has a ``cut`` block, so a client can print several documents
as one strip, or leave the cut to a following document.
"""

from __future__ import annotations

import re

from drivers.errors import DeviceError, EncodingError
from drivers.escpos.encoder import Align, Font, ReceiptEncoder, TextSize
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
    ``blocks[3]: ...``, or the run of text blocks printed together, ``blocks[3..9]: ...``.
    """
    encoder = ReceiptEncoder(profile)
    # Consecutive text blocks in one style (the item lines of a receipt) go to the
    # encoder as one text: the same paper, a fraction of the work.
    run: list[str] = []
    run_style: _Style | None = None
    run_start = 0
    first = last = 0  # the blocks an error would be about
    try:
        for index, block in enumerate(doc.blocks):
            first = last = index
            text = _text_of(block, profile)
            style = _style_of(block) if text is not None else None
            if text is not None and run and style == run_style:
                run.append(text)
                continue
            if run and run_style is not None:
                first, last = run_start, index - 1
                _print_run(encoder, run, run_style)
                first = last = index
            if text is None:
                run, run_style = [], None
                _render_block(encoder, block)
            else:
                run, run_style, run_start = [text], style, index
        if run and run_style is not None:
            first, last = run_start, len(doc.blocks) - 1
            _print_run(encoder, run, run_style)
    except DeviceError as exc:
        # Keep the class (an unsupported feature is not bad content), add the place.
        raise type(exc)(f"{_where(first, last)}: {exc}") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise EncodingError(f"{_where(first, last)}: {exc}") from exc
    return encoder.getvalue()


def _where(first: int, last: int) -> str:
    return f"blocks[{first}]" if first == last else f"blocks[{first}..{last}]"


# bold, underline, size, align, font
_Style = tuple[bool, bool, TextSize, Align, Font]


def _style_of(block: Block) -> _Style:
    match block:
        case TextBlock():
            return (block.bold, block.underline, block.size, block.align, block.font)
        case ColumnsBlock():
            return (block.bold, False, block.size, Align.LEFT, block.font)
        case _:
            return (False, False, TextSize.NORMAL, Align.LEFT, getattr(block, "font", Font.A))


def _text_of(block: Block, profile: PrinterProfile) -> str | None:
    """The laid-out text of a text, columns or rule block; None for other blocks."""
    match block:
        case TextBlock():
            width = line_columns(profile, font=block.font, size=block.size)
            return "\n".join(wrap(block.text, width)) + "\n"
        case ColumnsBlock():
            width = line_columns(profile, font=block.font, size=block.size)
            return "\n".join(columns_lines(block.left, block.right, width)) + "\n"
        case RuleBlock():
            return rule_line(block.char, line_columns(profile, font=block.font)) + "\n"
    return None


def _print_run(encoder: ReceiptEncoder, run: list[str], style: _Style) -> None:
    bold, underline, size, align, font = style
    encoder.text(
        _printable("".join(run)), bold=bold, underline=underline, size=size, align=align, font=font
    )


def _render_block(encoder: ReceiptEncoder, block: Block) -> None:
    match block:
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
