"""Document -> ESC/POS bytes, checked by printing them on the ESC/POS emulator."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

from drivers.errors import EncodingError, UnsupportedFeature
from drivers.escpos.emulator import EscposEmulator
from drivers.escpos.profiles import load_profile
from posbridge.receipts.document import ReceiptDocument
from posbridge.receipts.render import render_document

TM_T88V = load_profile("TM-T88V")


def _doc(*blocks: dict[str, object]) -> ReceiptDocument:
    return ReceiptDocument.model_validate({"blocks": list(blocks)})


def _printed(doc: ReceiptDocument) -> EscposEmulator:
    emulator = EscposEmulator({"profile": "TM-T88V"})
    emulator.receive(render_document(doc, TM_T88V))
    return emulator


def test_starts_with_init_and_adds_no_cut() -> None:
    data = render_document(_doc({"type": "text", "text": "hello"}), TM_T88V)
    assert data.startswith(b"\x1b@")
    emulator = EscposEmulator({"profile": "TM-T88V"})
    emulator.receive(data)
    assert emulator.cuts == 0
    assert emulator.output_text().strip() == "hello"


def test_cut_and_drawer_only_where_the_document_says() -> None:
    emulator = _printed(
        _doc({"type": "text", "text": "x"}, {"type": "cut"}, {"type": "drawer", "pin": 5})
    )
    assert emulator.cuts == 1
    assert [pulse.pin for pulse in emulator.drawer_pulses] == [5]


def test_text_is_wrapped_to_the_paper() -> None:
    words = " ".join(f"word{i:02d}" for i in range(20))  # 139 characters
    lines = _printed(_doc({"type": "text", "text": words})).output_text().splitlines()
    printed = [line for line in lines if line.strip()]
    assert len(printed) == 4
    assert all(len(line) <= 42 for line in printed)
    assert " ".join(printed).split() == words.split()


def test_double_width_text_wraps_at_half_the_columns() -> None:
    text = "abcd " * 8  # 40 characters: one line normally, two at double width
    normal = _printed(_doc({"type": "text", "text": text})).output_text()
    double = _printed(_doc({"type": "text", "text": text, "size": "double"})).output_text()
    assert len([ln for ln in normal.splitlines() if ln.strip()]) == 1
    assert len([ln for ln in double.splitlines() if ln.strip()]) == 2


def test_columns_and_rule_fill_the_line() -> None:
    text = _printed(
        _doc(
            {"type": "columns", "left": "2 x Shirt", "right": "€ 49,00"},
            {"type": "rule", "char": "="},
        )
    ).output_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines == ["2 x Shirt" + " " * 26 + "€ 49,00", "=" * 42]


def test_accented_and_euro_characters_survive_the_code_pages() -> None:
    text = _printed(_doc({"type": "text", "text": "€ ä ö ü ß é ñ Ø"})).output_text()
    assert "€ ä ö ü ß é ñ Ø" in text


def test_babel_spaces_and_minus_sign_print_as_ascii() -> None:
    text = _printed(
        _doc({"type": "columns", "left": "Rabatt", "right": "\u22121\u202f234,50\u00a0€"})
    ).output_text()
    assert "-1 234,50 €" in text


def test_font_b_uses_its_own_columns() -> None:
    text = _printed(_doc({"type": "rule", "font": "b"})).output_text()
    assert "-" * 56 in text


def test_unsupported_feature_keeps_its_class_and_names_the_block() -> None:
    profile = load_profile("ZJ-5870")  # a 58 mm printer with a single font
    assert not profile.font_b
    doc = _doc(
        {"type": "text", "text": "ok"}, {"type": "feed"}, {"type": "text", "text": "x", "font": "b"}
    )
    with pytest.raises(UnsupportedFeature, match=r"^blocks\[2\]: .*font B"):
        render_document(doc, profile)


def test_drawer_on_a_printer_without_one_names_the_block() -> None:
    doc = _doc({"type": "drawer", "pin": 2})
    with pytest.raises(UnsupportedFeature, match=r"^blocks\[0\]: "):
        render_document(doc, load_profile("OCD-100"))


def test_encoder_errors_name_the_block() -> None:
    doc = _doc(
        {"type": "text", "text": "ok"},
        {"type": "barcode", "symbology": "CODE128", "data": "x", "module_width": 2},
    )
    # A model_construct()ed block skips validation; the encoder still catches it.
    bad = doc.blocks[1].model_copy(update={"height": 999})
    doc = ReceiptDocument.model_construct(blocks=[doc.blocks[0], bad])
    with pytest.raises(EncodingError, match=r"^blocks\[1\]: .*height"):
        render_document(doc, TM_T88V)


def test_image_block_prints_scaled_to_the_paper() -> None:
    buf = io.BytesIO()
    Image.new("L", (1024, 100), 0).save(buf, format="PNG")
    doc = _doc({"type": "image", "png": base64.b64encode(buf.getvalue()).decode()})
    emulator = _printed(doc)
    picture = Image.open(io.BytesIO(emulator.output_png()))
    assert picture.width == TM_T88V.width_px
    # a black 1024x100 picture scaled to 512 wide is ~50 dots tall of black
    black_rows = sum(
        1
        for y in range(picture.height)
        if picture.convert("L").getpixel((picture.width // 2, y)) == 0
    )
    assert 40 <= black_rows <= 60


def _thirty_line_receipt() -> ReceiptDocument:
    blocks: list[dict[str, object]] = [
        {
            "type": "text",
            "text": "Café Größenwahn",
            "align": "center",
            "bold": True,
            "size": "double",
        }
    ]
    blocks += [
        {"type": "columns", "left": f"{i} x Artikel Nummer {i}", "right": f"€ {i},90"}
        for i in range(26)
    ]
    blocks += [
        {"type": "rule"},
        {"type": "columns", "left": "SUMME", "right": "€ 351,00", "bold": True},
        {"type": "barcode", "symbology": "CODE128", "data": "R2024000123"},
        {"type": "qr", "data": "_R1-AT1_KASSA-1_2024-000123_2024-05-02T14:31:07_86,00"},
        {"type": "cut"},
    ]
    return _doc(*blocks)


def test_thirty_line_receipt_renders_quickly() -> None:
    doc = _thirty_line_receipt()
    render_document(doc, TM_T88V)  # warm caches (code page tables)
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        render_document(doc, TM_T88V)
    per_receipt = (time.perf_counter() - start) / runs
    print(f"30-line receipt with barcode and QR: {per_receipt * 1000:.2f} ms")
    # Typically ~2 ms here (python-escpos's per-character code page search dominates);
    # the bound is loose because the test machine is shared.
    assert per_receipt < 0.025


def test_text_runs_print_the_same_paper_as_block_by_block() -> None:
    """Consecutive text blocks go out as one text; the paper must not change."""
    import json
    from pathlib import Path

    from drivers.escpos.emulator import EscposEmulator
    from drivers.escpos.profiles import load_profile
    from posbridge.receipts.document import ReceiptDocument
    from posbridge.receipts.render import render_document
    from posbridge.receipts.templates import TemplateStore

    example = Path(__file__).resolve().parents[3] / "examples" / "sales-receipt.json"
    document = TemplateStore().render("sales", json.loads(example.read_text())["data"])
    profile = load_profile("TM-T88V")
    together = EscposEmulator({})
    together.receive(render_document(document, profile))
    one_by_one = EscposEmulator({})
    for block in document.blocks:
        one_by_one.receive(render_document(ReceiptDocument(blocks=[block]), profile))
    assert together.output_text() == one_by_one.output_text()
    assert together.output_png() == one_by_one.output_png()
