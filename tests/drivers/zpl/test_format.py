"""Parsing ZPL formats into labels: fields, origins, encodings, barcodes, errors."""

from __future__ import annotations

import pytest

from drivers.errors import ProtocolError
from drivers.zpl.barcodes import Symbology, gs1_check_digit
from drivers.zpl.fonts import baseline
from drivers.zpl.format import (
    BarcodeField,
    BoxField,
    FormatState,
    Justify,
    Label,
    LineColor,
    TextBlock,
    TextField,
    ZplSyntaxError,
    parse_format,
)


def parse(zpl: str | bytes, state: FormatState | None = None) -> Label:
    data = zpl.encode("utf-8") if isinstance(zpl, str) else zpl
    return parse_format(data, state if state is not None else FormatState())


def only_text(label: Label) -> TextField:
    (field,) = label.fields
    assert isinstance(field, TextField)
    return field


def only_barcode(label: Label) -> BarcodeField:
    (field,) = label.fields
    assert isinstance(field, BarcodeField)
    return field


# -- fields and origins --------------------------------------------------------------------------
def test_text_box_and_barcode_fields_come_out_in_format_order() -> None:
    label = parse(
        "^XA^PW406^LL609"
        "^FO10,20^A0N,40,30^FDShirt^FS"
        "^FO5,6^GB100,50,3^FS"
        "^BY3^FO30,200^BCN,70,N^FDABC^FS"
        "^XZ"
    )
    assert (label.width, label.length, label.dpi, label.quantity) == (406, 609, 203, 1)
    text, box, code = label.fields
    assert text == TextField(10, 20, "Shirt", font="0", height=40, width=30)
    assert box == BoxField(5, 6, 100, 50, thickness=3)
    assert isinstance(code, BarcodeField)
    assert (code.symbology, code.data, code.x, code.y) == (Symbology.CODE128, "ABC", 30, 200)
    assert (code.module_width, code.height, code.interpretation) == (3, 70, False)


def test_ft_names_the_baseline_and_fo_the_top() -> None:
    top = only_text(parse("^XA^FO50,100^A0N,40^FDHi^FS^XZ"))
    base = only_text(parse("^XA^FT50,100^A0N,40^FDHi^FS^XZ"))
    assert top.y == 100
    assert base.y == 100 - baseline(40)
    assert 20 < baseline(40) < 40  # the baseline sits inside the cell, above the descenders


def test_ft_on_a_1d_barcode_is_its_bottom_left() -> None:
    code = only_barcode(parse("^XA^BY2^FT40,300^BEN,80^FD400638133393^FS^XZ"))
    assert (code.x, code.y, code.height) == (40, 220, 80)


def test_label_home_offsets_every_field_and_persists() -> None:
    state = FormatState()
    label = parse("^XA^LH30,40^FO10,20^A0N,30^FDx^FS^FO0,0^GB10,10,10^FS^XZ", state)
    text, box = label.fields
    assert (text.x, text.y, box.x, box.y) == (40, 60, 30, 40)
    assert state.home == (30, 40)
    again = only_text(parse("^XA^FO1,2^A0N,30^FDy^FS^XZ", state))
    assert (again.x, again.y) == (31, 42)


def test_default_font_comes_from_cf_and_a_overrides_one_field() -> None:
    label = parse("^XA^CF0,50^FO0,0^FDa^FS^FO0,60^A0N,20,15^FDb^FS^FO0,90^FDc^FS^XZ")
    sizes = [(f.height, f.width) for f in label.fields if isinstance(f, TextField)]
    assert sizes == [(50, 50), (20, 15), (50, 50)]


def test_field_block_parameters() -> None:
    text = only_text(parse("^XA^FO10,10^A0N,30^FB300,3,4,C,12^FDone\\&two^FS^XZ"))
    assert text.block == TextBlock(300, 3, 4, Justify.CENTER, 12)
    assert text.text == "one\ntwo"


def test_field_reverse_and_box_colour_and_rounding() -> None:
    label = parse("^XA^FO0,0^GB200,100,100,W,4^FR^FS^FO0,0^FR^A0N,30^FDx^FS^XZ")
    box, text = label.fields
    assert isinstance(box, BoxField) and isinstance(text, TextField)
    assert (box.color, box.rounding, box.reverse, box.filled) == (LineColor.WHITE, 4, True, True)
    assert text.reverse


def test_quantity_and_comments() -> None:
    label = parse("^XA^FX price tag v2^FS^PQ5,0,1,Y^XZ")
    assert label.quantity == 5
    assert label.comments == ("price tag v2",)


def test_setup_commands_pass_silently_and_unknown_ones_are_recorded() -> None:
    label = parse(
        "^XA^MNY^MD10^PR4^MTD^PON^PMN^LRN^LS0^MMT^JMA^JUS^LT0^FWN"
        "^GFA,1,1,1,00^XY123^FO0,0^A0N,20^FDok^FS^XZ"
    )
    assert label.ignored == ("^GF", "^XY")
    assert only_text(label).text == "ok"


def test_tilde_commands_left_in_a_format_are_ignored() -> None:
    label = parse("^XA~SD15^FO0,0^A0N,20^FDok^FS~JA^XZ")
    assert only_text(label).text == "ok"
    assert label.ignored == ()


def test_caret_can_be_changed() -> None:
    label = parse("^XA^CC+ +FO5,5+A0N,20+FDplus+FS+XZ")
    assert only_text(label).text == "plus"


def test_crlf_between_commands_is_ignored() -> None:
    text = only_text(parse("^XA\r\n^FO10,\r\n20^A0N,30\r\n^FDline^FS\r\n^XZ\r\n"))
    assert (text.x, text.y, text.text) == (10, 20, "line")


# -- encodings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["€ 9,99", "Käse", "Straße", "1000円"])
def test_fh_hex_escapes_decode_utf8_byte_by_byte(word: str) -> None:
    escaped = "".join(f"_{byte:02X}" for byte in word.encode("utf-8"))
    text = only_text(parse(f"^XA^CI28^FO0,0^A0N,30^FH^FD{escaped}^FS^XZ"))
    assert text.text == word


def test_fh_with_another_indicator_and_literal_text() -> None:
    text = only_text(parse("^XA^CI28^FO0,0^A0N,30^FH\\^FDa\\5Eb \\C3\\A4 _41\\zz^FS^XZ"))
    assert text.text == "a^b ä _41\\zz"


def test_default_encoding_is_cp850_until_ci28() -> None:
    state = FormatState()
    raw = b"^XA^FO0,0^A0N,30^FD\x84\xe1^FS^XZ"  # cp850 for "äß"
    assert only_text(parse(raw, state)).text == "äß"
    parse("^XA^CI28^XZ", state)
    assert state.encoding == "utf-8"
    assert only_text(parse("^XA^FO0,0^A0N,30^FDäß^FS^XZ", state)).text == "äß"
    parse("^XA^CI27^XZ", state)
    assert only_text(parse(b"^XA^FO0,0^A0N,30^FD\x80^FS^XZ", state)).text == "€"


def test_utf8_text_without_ci28_reads_as_cp850() -> None:
    # The printer would print mojibake; the parser must show the same.
    assert only_text(parse("^XA^FO0,0^A0N,30^FDä^FS^XZ")).text == "├ñ"


# -- barcodes ------------------------------------------------------------------------------------
def test_qr_prefix_is_stripped_and_level_kept() -> None:
    code = only_barcode(parse("^XA^CI28^FO0,0^BQN,2,5^FDHA,https://example.com/p/1?x=ä^FS^XZ"))
    assert code.symbology is Symbology.QR
    assert code.data == "https://example.com/p/1?x=ä"
    assert (code.error_correction, code.module_width, code.charset) == ("H", 5, "utf-8")


@pytest.mark.parametrize(
    ("field_data", "level", "data"),
    [("QA,ABC", "Q", "ABC"), ("MM,AHELLO", "M", "HELLO"), ("LM,B0005bytes", "L", "bytes")],
)
def test_qr_input_modes(field_data: str, level: str, data: str) -> None:
    code = only_barcode(parse(f"^XA^FO0,0^BQN,2,3^FD{field_data}^FS^XZ"))
    assert (code.error_correction, code.data) == (level, data)


def test_qr_magnification_defaults_by_dpi() -> None:
    low = only_barcode(parse("^XA^FO0,0^BQN^FDQA,x^FS^XZ", FormatState(dpi=203)))
    high = only_barcode(parse("^XA^FO0,0^BQN^FDQA,x^FS^XZ", FormatState(dpi=300)))
    assert (low.module_width, high.module_width) == (2, 3)


def test_qr_without_prefix_is_an_error() -> None:
    with pytest.raises(ZplSyntaxError) as caught:
        parse("^XA^FO0,0^BQN,2,3^FDhttps://x^FS^XZ")
    assert caught.value.command == "^BQ"


@pytest.mark.parametrize(
    ("command", "sent", "read"),
    [
        ("^BEN,80", "400638133393", "4006381333931"),
        ("^BEN,80", "4006381333931", "4006381333931"),
        ("^BUN,80", "03600029145", "036000291452"),
        ("^B8N,80", "9638507", "96385074"),
        ("^B8N,80", "38507", "00385077"),  # short data is padded with zeros like a Zebra
    ],
)
def test_retail_symbols_carry_the_computed_check_digit(command: str, sent: str, read: str) -> None:
    code = only_barcode(parse(f"^XA^FO0,0{command}^FD{sent}^FS^XZ"))
    assert code.data == read
    assert code.data[-1] == gs1_check_digit(code.data[:-1])


def test_wrong_check_digit_is_replaced_with_a_warning() -> None:
    label = parse("^XA^FO0,0^BEN,80^FD4006381333932^FS^XZ")
    assert only_barcode(label).data == "4006381333931"
    assert label.warnings and "check digit" in label.warnings[0]


@pytest.mark.parametrize(
    ("sent", "read"),
    [(">:SKU-12345", "SKU-12345"), (">;12345678", "12345678"), ("AB>5123456", "AB123456")],
)
def test_code128_invocation_codes_are_not_data(sent: str, read: str) -> None:
    code = only_barcode(parse(f"^XA^BY2^FO0,0^BCN,60,Y,N,N^FD{sent}^FS^XZ"))
    assert code.data == read
    assert code.interpretation


def test_code128_automatic_mode_keeps_data_as_sent() -> None:
    code = only_barcode(parse("^XA^FO0,0^BCN,60,Y,N,N,A^FD>:X^FS^XZ"))
    assert code.data == ">:X"


def test_by_defaults_persist_between_formats() -> None:
    state = FormatState()
    parse("^XA^BY4,2.5,90^XZ", state)
    code = only_barcode(parse("^XA^FO0,0^BCN^FDX^FS^XZ", state))
    assert (code.module_width, code.ratio, code.height) == (4, 2.5, 90)


def test_datamatrix_module_size() -> None:
    code = only_barcode(parse("^XA^FO10,10^BXN,6,200^FDABC123xyz^FS^XZ"))
    assert (code.symbology, code.data, code.module_width) == (Symbology.DATAMATRIX, "ABC123xyz", 6)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("zpl", "command"),
    [
        ("^XA^FO0,0^A0N,30^FDno end^XZ", "^FD"),
        ("^XA^FO0,0^FDa^FO10,10^FDb^FS^XZ", "^FD"),
        ("^XA^FOten,10^FDa^FS^XZ", "^FO"),
        ("^XA^FO-5,10^FDa^FS^XZ", "^FO"),
        ("^XA^FO0,0^A0N,big^FDa^FS^XZ", "^A0"),
        ("^XA^FO0,0^A0Q,30^FDa^FS^XZ", "^A0"),
        ("^XA^BY11^XZ", "^BY"),
        ("^XA^BY2,x^XZ", "^BY"),
        ("^XA^FO0,0^GB10,10,1,X^FS^XZ", "^GB"),
        ("^XA^FO0,0^FB100,0^FDa^FS^XZ", "^FB"),
        ("^XA^PQ0^XZ", "^PQ"),
        ("^XA^FO0,0^BEN,80^FD12AB^FS^XZ", "^BE"),
        ("^XA^FO0,0^BEN,80^FD12345678901234^FS^XZ", "^BE"),
        ("^XA^FO0,0^BCN,80^FDä^FS^XZ", "^BC"),
        ("^FO0,0^FDa^FS^XZ", "^FO"),
        ("^XA^FO0,0^FDa^FS", "^XZ"),
    ],
)
def test_broken_formats_raise_naming_the_command(zpl: str, command: str) -> None:
    with pytest.raises(ZplSyntaxError) as caught:
        parse(zpl)
    assert caught.value.command == command
    assert command in str(caught.value)
    assert isinstance(caught.value, ProtocolError)


def test_error_position_points_at_the_command() -> None:
    zpl = "^XA^FO0,0^FDok^FS^FO1,x^XZ"
    with pytest.raises(ZplSyntaxError) as caught:
        parse(zpl)
    assert zpl[caught.value.position :].startswith("^FO1,x")
