"""ReceiptDocument validation: bad input is refused at the request, naming the field."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from drivers.escpos.encoder import Align, Symbology, TextSize
from posbridge.receipts.document import MAX_BLOCKS, ImageBlock, ReceiptDocument, TextBlock


def _png(width: int = 40, height: int = 20) -> str:
    buf = io.BytesIO()
    Image.new("1", (width, height), 0).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


CONTRACT_EXAMPLE: dict[str, Any] = {
    "blocks": [
        {
            "type": "text",
            "text": "Grüße aus Wien",
            "align": "center",
            "bold": True,
            "size": "double",
        },
        {"type": "columns", "left": "2 x Shirt", "right": "€ 49,00"},
        {"type": "rule"},
        {"type": "barcode", "symbology": "CODE128", "data": "ORDER-12345"},
        {"type": "qr", "data": "https://example.com/r/12345"},
        {"type": "image", "png": _png()},
        {"type": "feed", "lines": 2},
        {"type": "cut"},
        {"type": "drawer", "pin": 2},
    ]
}


def _errors(body: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as info:
        ReceiptDocument.model_validate_json(json.dumps(body))
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


def _one_block(block: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    return _errors({"blocks": [{"type": "text", "text": "ok"}, block]})


def test_contract_example_validates_with_typed_fields() -> None:
    doc = ReceiptDocument.model_validate_json(json.dumps(CONTRACT_EXAMPLE))
    assert [b.type for b in doc.blocks] == [b["type"] for b in CONTRACT_EXAMPLE["blocks"]]
    first = doc.blocks[0]
    assert isinstance(first, TextBlock)
    assert first.align is Align.CENTER and first.size is TextSize.DOUBLE and first.bold


def test_unknown_field_is_named() -> None:
    errors = _one_block({"type": "text", "text": "x", "colour": "red"})
    assert errors == [(("blocks", 1, "text", "colour"), "Extra inputs are not permitted")]


def test_unknown_top_level_field_is_named() -> None:
    errors = _errors({"blocks": [{"type": "cut"}], "copies": 2})
    assert errors[0][0] == ("copies",)


def test_wrong_type_is_named() -> None:
    errors = _one_block({"type": "feed", "lines": "many"})
    assert errors[0][0] == ("blocks", 1, "feed", "lines")


def test_unknown_block_type_is_reported_at_the_block() -> None:
    errors = _one_block({"type": "sparkle"})
    assert errors[0][0] == ("blocks", 1)
    assert "'sparkle'" in errors[0][1] and "'text'" in errors[0][1]


def test_bad_ean13_check_digit_is_an_error_on_data() -> None:
    errors = _one_block({"type": "barcode", "symbology": "EAN13", "data": "4006381333932"})
    assert errors[0][0] == ("blocks", 1, "barcode", "data")
    assert "check digit" in errors[0][1]


def test_good_ean13_passes() -> None:
    doc = ReceiptDocument.model_validate(
        {"blocks": [{"type": "barcode", "symbology": "EAN13", "data": "4006381333931"}]}
    )
    assert doc.blocks[0].symbology is Symbology.EAN13  # type: ignore[union-attr]


def test_unknown_symbology_reports_symbology_not_data() -> None:
    errors = _one_block({"type": "barcode", "symbology": "AZTEC", "data": "x"})
    assert [loc for loc, _ in errors] == [("blocks", 1, "barcode", "symbology")]


@pytest.mark.parametrize("text", ["a\x1bp\x00\x19", "\x1d(k", "x\x7f", "tab\tbed"])
def test_control_characters_are_refused(text: str) -> None:
    errors = _one_block({"type": "text", "text": text})
    assert errors[0][0] == ("blocks", 1, "text", "text")
    assert "control character U+" in errors[0][1]


def test_newline_is_allowed_in_text_but_not_in_columns() -> None:
    ReceiptDocument.model_validate({"blocks": [{"type": "text", "text": "a\nb"}]})
    errors = _one_block({"type": "columns", "left": "a\nb", "right": "1"})
    assert errors[0][0] == ("blocks", 1, "columns", "left")


def test_text_is_normalised_to_nfc() -> None:
    doc = ReceiptDocument.model_validate({"blocks": [{"type": "text", "text": "Cafe\u0301"}]})
    assert doc.blocks[0].text == "Café"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"type": "text", "text": "x" * 10_001}, "text"),
        ({"type": "feed", "lines": 0}, "lines"),
        ({"type": "feed", "lines": 256}, "lines"),
        ({"type": "barcode", "symbology": "CODE128", "data": "x", "height": 0}, "height"),
        ({"type": "qr", "data": ""}, "data"),
        ({"type": "qr", "data": "x", "module_size": 17}, "module_size"),
        ({"type": "drawer", "pin": 3}, "pin"),
        ({"type": "rule", "char": "=="}, "char"),
        ({"type": "text", "text": "x", "size": "huge"}, "size"),
        ({"type": "text", "text": "x", "align": "middle"}, "align"),
    ],
)
def test_bounds(block: dict[str, Any], field: str) -> None:
    errors = _one_block(block)
    assert errors[0][0] == ("blocks", 1, block["type"], field)


def test_qr_capacity_depends_on_error_level() -> None:
    data = "é" * 1000  # 2000 UTF-8 bytes: fits level L/M (2953/2331), not Q/H
    ReceiptDocument.model_validate({"blocks": [{"type": "qr", "data": data, "error_level": "M"}]})
    errors = _one_block({"type": "qr", "data": data, "error_level": "H"})
    assert errors[0][0] == ("blocks", 1, "qr")
    assert "2000 UTF-8 bytes" in errors[0][1] and "1273" in errors[0][1]


def test_block_count_bounds() -> None:
    assert _errors({"blocks": []})[0][0] == ("blocks",)
    too_many = {"blocks": [{"type": "feed"}] * (MAX_BLOCKS + 1)}
    assert _errors(too_many)[0][0] == ("blocks",)


def test_image_round_trips() -> None:
    doc = ReceiptDocument.model_validate({"blocks": [{"type": "image", "png": _png(33, 7)}]})
    block = doc.blocks[0]
    assert isinstance(block, ImageBlock)
    with block.open_image() as image:
        assert image.size == (33, 7)


@pytest.mark.parametrize(
    ("png", "needle"),
    [
        ("not base64!!", "base64"),
        (base64.b64encode(b"hello, not an image").decode(), "not a readable image"),
        (base64.b64encode(b"%PDF-1.4 ...").decode(), "not a readable image"),
    ],
)
def test_bad_images_are_refused(png: str, needle: str) -> None:
    errors = _one_block({"type": "image", "png": png})
    assert errors[0][0] == ("blocks", 1, "image", "png")
    assert needle in errors[0][1]


def test_decompression_bomb_is_refused_from_the_header() -> None:
    # 8000 x 8000 one-bit pixels compress to a few KB but would decode to 64 MP.
    errors = _one_block({"type": "image", "png": _png(8000, 8000)})
    assert errors[0][0] == ("blocks", 1, "image", "png")
    assert "pixels" in errors[0][1]


def test_truncated_png_is_refused() -> None:
    raw = base64.b64decode(_png(200, 200))
    errors = _one_block({"type": "image", "png": base64.b64encode(raw[:-30]).decode()})
    assert errors[0][0] == ("blocks", 1, "image", "png")


def test_a_receipt_holds_a_handful_of_images_not_hundreds() -> None:
    from posbridge.api.routes.printers import ReceiptRequest
    from posbridge.receipts.document import MAX_IMAGES

    image = {"type": "image", "png": _png()}
    ReceiptDocument.model_validate({"blocks": [image] * MAX_IMAGES})
    for model in (ReceiptDocument, ReceiptRequest):
        with pytest.raises(ValidationError, match="at most 16 images, this one has 17"):
            model.model_validate({"blocks": [image] * (MAX_IMAGES + 1)})
