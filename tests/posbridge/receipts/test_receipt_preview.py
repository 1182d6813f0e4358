"""Previews: the document printed on an emulated printer of the given model."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from drivers.errors import UnsupportedFeature
from posbridge.receipts.document import ReceiptDocument
from posbridge.receipts.preview import PreviewFormat, render_preview

DOC = ReceiptDocument.model_validate(
    {"blocks": [{"type": "text", "text": "Grüß Gott", "align": "center"}, {"type": "rule"}]}
)


def test_text_preview_follows_the_profile_width() -> None:
    wide = render_preview(DOC, "TM-T88V", PreviewFormat.TEXT)
    narrow = render_preview(DOC, "ZJ-5870", "text")
    assert "Grüß Gott" in wide and "Grüß Gott" in narrow
    assert "-" * 42 in wide
    assert "-" * 33 not in narrow and "-" * 32 in narrow


def test_png_preview_is_an_image_of_the_paper() -> None:
    png = render_preview(DOC, "TM-T88V", "png")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == 512  # TM-T88V: 512 dots at 180 dpi


def test_unknown_format_and_profile() -> None:
    with pytest.raises(ValueError, match="pdf"):
        render_preview(DOC, "TM-T88V", "pdf")
    with pytest.raises(UnsupportedFeature, match="unknown printer profile"):
        render_preview(DOC, "TM-NOPE", "text")
