"""What a document looks like on paper, without a printer.

The document is rendered to the same bytes a printer would get, and those bytes are fed
to a fresh ESC/POS emulator of the same model, so the preview shows what the printer
would print (wrapping, code pages, barcodes), not an idealised picture.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, overload

from drivers.escpos.profiles import load_profile
from posbridge.receipts.document import ReceiptDocument
from posbridge.receipts.render import render_document

__all__ = ["PreviewFormat", "render_preview"]


class PreviewFormat(StrEnum):
    """``png``: an image of the paper; ``text``: the printed characters, one line each."""

    PNG = "png"
    TEXT = "text"


@overload
def render_preview(
    doc: ReceiptDocument,
    profile_name: str,
    fmt: Literal[PreviewFormat.PNG, "png"],
) -> bytes: ...


@overload
def render_preview(
    doc: ReceiptDocument,
    profile_name: str,
    fmt: Literal[PreviewFormat.TEXT, "text"],
) -> str: ...


@overload
def render_preview(
    doc: ReceiptDocument, profile_name: str, fmt: PreviewFormat | str
) -> bytes | str: ...


def render_preview(
    doc: ReceiptDocument, profile_name: str, fmt: PreviewFormat | str
) -> bytes | str:
    """Print ``doc`` on an emulated ``profile_name`` printer; PNG bytes or text.

    Raises ``ValueError`` for an unknown format and the ``DeviceError`` subclasses of
    :func:`render_document` (``UnsupportedFeature`` for an unknown profile).
    """
    # The emulator (and its paper renderer) is only needed here; importing it lazily
    # keeps it out of the daemon's start-up for stores that never preview.
    from drivers.escpos.emulator import EscposEmulator

    format_ = PreviewFormat(fmt)
    profile = load_profile(profile_name)
    data = render_document(doc, profile)
    emulator = EscposEmulator({"profile": profile.name})
    emulator.receive(data)
    if format_ is PreviewFormat.PNG:
        return emulator.output_png()
    return emulator.output_text()
