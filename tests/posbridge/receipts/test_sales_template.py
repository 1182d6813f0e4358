"""The default ``sales`` template end to end: data -> document -> bytes -> emulated paper."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from drivers.escpos.profiles import load_profile
from posbridge.receipts.document import BarcodeBlock, CutBlock, QrBlock, TextBlock
from posbridge.receipts.preview import PreviewFormat, render_preview
from posbridge.receipts.render import render_document
from posbridge.receipts.templates import TemplateError, TemplateErrorCode, TemplateStore

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp decodes the printed codes")

DATA_FILE = Path(__file__).with_name("sales_data.json")


@pytest.fixture
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def store() -> TemplateStore:
    return TemplateStore()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def test_full_receipt_prints_every_part(store: TemplateStore, data: dict[str, Any]) -> None:
    doc = store.render("sales", data)
    text = render_preview(doc, "TM-T88V", PreviewFormat.TEXT)
    lines = _lines(text)
    for expected in (
        "Café Größenwahn",
        "Mariahilfer Straße 12",
        "UID ATU12345678",
        "Kassier                                Zoë",
        "Datum                     02.05.2024 14:31",
        "2 x Shirt Señorita                 € 49,00",
        "   à € 24,50",
        "   Art.-Nr. SH-0042",
        "1 x Crème brûlée mit Schlagobers    € 6,90",
        "   Aktion -10 %                    -€ 3,90",
        "Stammkunde                         -€ 5,00",
        "Rückgeld                           € 14,00",
        "Wien — USt 20 % (netto € 70,00)    € 14,00",
        "Danke für Ihren Einkauf!",
    ):
        assert any(expected in line for line in lines), f"{expected!r} not printed:\n{text}"
    assert all(len(line) <= 42 for line in lines if not line.startswith("["))
    # one item of quantity 1 has no unit price line
    assert sum("à €" in line for line in lines) == 1
    assert isinstance(doc.blocks[-1], CutBlock)


def test_qr_and_barcodes_decode_from_the_printed_image(
    store: TemplateStore, data: dict[str, Any]
) -> None:
    doc = store.render("sales", data)
    png = render_preview(doc, "TM-T88V", "png")
    image = Image.open(io.BytesIO(png)).convert("L")
    found = {
        (code.format, code.text)
        for code in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
    }
    assert (zxingcpp.BarcodeFormat.QRCode, data["fiscal"]["qr"]) in found
    assert (zxingcpp.BarcodeFormat.Code128, data["fiscal"]["barcode"]) in found
    assert (zxingcpp.BarcodeFormat.Code128, data["barcode"]) in found


def test_optional_parts_absent_are_left_out(store: TemplateStore) -> None:
    minimal = {
        "currency": "EUR",
        "items": [{"name": "Kaffee", "qty": "1", "total": "3.20"}],
        "totals": {"total": "3.20"},
    }
    doc = store.render("sales", minimal)
    assert not any(isinstance(b, QrBlock | BarcodeBlock) for b in doc.blocks)
    texts = [getattr(b, "text", "") + getattr(b, "left", "") for b in doc.blocks]
    assert "1 x Kaffee" in texts and "SUMME" in texts
    assert not any("UID" in t or "Rückgeld" in t for t in texts)


def test_empty_data_still_makes_a_receipt(store: TemplateStore) -> None:
    doc = store.render("sales", {})
    assert isinstance(doc.blocks[-1], CutBlock)


def test_english_locale_switches_labels_and_formats(
    store: TemplateStore, data: dict[str, Any]
) -> None:
    data["locale"] = "en_IE"
    lines = _lines(render_preview(store.render("sales", data), "TM-T88V", "text"))
    assert any(line.startswith("TOTAL") and line.endswith("€86.00") for line in lines), lines
    assert any(line.startswith("Change") for line in lines)


def test_missing_required_item_field_names_it(store: TemplateStore, data: dict[str, Any]) -> None:
    del data["items"][1]["total"]
    with pytest.raises(TemplateError) as info:
        store.render("sales", data)
    assert info.value.code is TemplateErrorCode.DATA
    assert "items[1].total is undefined" in info.value.message
    assert info.value.template == "sales" and info.value.line is not None


def test_bad_receipt_barcode_is_a_template_output_error(
    store: TemplateStore, data: dict[str, Any]
) -> None:
    data["barcode"] = "Ärger"  # not ASCII: CODE128 cannot carry it
    with pytest.raises(TemplateError) as info:
        store.render("sales", data)
    assert info.value.code is TemplateErrorCode.OUTPUT
    assert "CODE128" in info.value.message


def test_item_name_cannot_open_the_drawer(store: TemplateStore, data: dict[str, Any]) -> None:
    data["items"][0]["name"] = "x\n@drawer 2"
    doc = store.render("sales", data)
    assert not any(b.type == "drawer" for b in doc.blocks)
    emulated = render_document(doc, load_profile("TM-T88V"))
    assert b"\x1bp" not in emulated


def test_store_name_is_big_and_centred(store: TemplateStore, data: dict[str, Any]) -> None:
    first = store.render("sales", data).blocks[0]
    assert isinstance(first, TextBlock)
    assert (first.text, first.align, first.size, first.bold) == (
        "Café Größenwahn",
        "center",
        "double",
        True,
    )
