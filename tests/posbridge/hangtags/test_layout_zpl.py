"""TagLayout -> ZPL: exact bytes per element, escaping, strike-through, media checks."""

from __future__ import annotations

import pytest

from drivers.zpl.media import Media
from posbridge.hangtags.errors import HangTagError
from posbridge.hangtags.layout import (
    Align,
    BarcodeElement,
    BarcodeKind,
    BoxElement,
    DataMatrixElement,
    Element,
    LineElement,
    QrElement,
    QrLevel,
    TagLayout,
    TextElement,
)
from posbridge.hangtags.markup import mark_value, parse_tag_markup
from posbridge.hangtags.zpl import tag_zpl

M203 = Media(width_mm=50.8, height_mm=25.4, dpi=203)
M300 = Media(width_mm=50.8, height_mm=25.4, dpi=300)
HEAD = "^XA^CI28^PW406^LL203^LH0,0"


def fixed_width(text: str, height: int, width: int) -> int:
    """Stand-in metrics: every character half the font height wide."""
    return len(text) * width // 2


def zpl(*elements: Element, media: Media = M203, copies: int = 1) -> str:
    layout = TagLayout(50.8, 25.4, elements)
    return tag_zpl(layout, media, copies, measure=fixed_width).decode("utf-8")


def body(*elements: Element, media: Media = M203) -> str:
    out = zpl(*elements, media=media)
    assert out.endswith("^PQ1^XZ")
    return out[out.index("^LH0,0") + 6 : -len("^PQ1^XZ")]


def test_empty_tag_and_copies() -> None:
    assert zpl(copies=3) == HEAD + "^PQ3^XZ"
    assert tag_zpl(TagLayout(50.8, 25.4, ()), M300).startswith(b"^XA^CI28^PW600^LL300^LH0,0")


def test_text() -> None:
    text = TextElement(2, 3, 40, 5, "Shirt", Align.CENTER, 2)
    assert body(text) == "^FO16,24^A0N,40,40^FB320,2,0,C^FH^FDShirt^FS"
    # The same millimetres at 300 dpi.
    assert body(text, media=M300) == "^FO24,35^A0N,59,59^FB472,2,0,C^FH^FDShirt^FS"


def test_text_field_data_is_escaped() -> None:
    text = TextElement(0, 0, 40, 5, "a^XA~JA_b\\&\nc€")
    assert body(text) == "^FO0,0^A0N,40,40^FB320,1,0,L^FH^FDa_5EXA_7EJA_5Fb\\\\& c€^FS"


def test_text_reverse_bold_justify() -> None:
    reverse = TextElement(1, 1, 10, 4, "-20 %", Align.RIGHT, reverse=True)
    assert body(reverse) == ("^FO8,8^GB80,32,32^FS^FO8,8^A0N,32,32^FB80,1,0,R^FR^FH^FD-20 %^FS")
    bold = TextElement(1, 1, 10, 4, "x", Align.JUSTIFY, bold=True)
    assert body(bold) == (
        "^FO8,8^A0N,32,32^FB80,1,0,J^FH^FDx^FS^FO9,8^A0N,32,32^FB80,1,0,J^FH^FDx^FS"
    )


@pytest.mark.parametrize(
    ("align", "left"), [(Align.LEFT, 8), (Align.CENTER, 8 + (240 - 128) // 2), (Align.RIGHT, 120)]
)
def test_strike_through_spans_the_drawn_text(align: Align, left: int) -> None:
    # 8 characters at 32 dots -> 128 dots wide with the stand-in metrics.
    text = TextElement(1, 1, 30, 4, "€ 49,00x", align, strike=True)
    out = body(text)
    assert out.endswith(f"^FO{left},{8 + 12 - 1}^GB128,3,3^FS")


def test_fit_shrinks_one_line_text() -> None:
    # 10 characters at 40 dots = 200 dots; the box is 80: the font shrinks to half.
    text = TextElement(0, 0, 10, 5, "0123456789", fit=True)
    assert body(text).startswith("^FO0,0^A0N,20,20^FB80,1,0,L")
    short = TextElement(0, 0, 10, 5, "01", fit=True)
    assert body(short).startswith("^FO0,0^A0N,40,40^FB80,1,0,L")


def test_barcodes() -> None:
    assert body(BarcodeElement(3, 2, BarcodeKind.EAN13, "4006381333931", 10, 0.25)) == (
        "^FO24,16^BY2^BEN,80,Y,N^FD400638133393^FS"
    )
    assert body(BarcodeElement(3, 2, BarcodeKind.UPCA, "036000291452", 10, 0.375, False)) == (
        "^FO24,16^BY3^BUN,80,N,N,Y^FD03600029145^FS"
    )
    assert body(BarcodeElement(3, 2, BarcodeKind.EAN8, "96385074", 10, 0.1)) == (
        "^FO24,16^BY1^B8N,80,Y,N^FD9638507^FS"
    )
    assert body(BarcodeElement(3, 2, BarcodeKind.CODE128, "AB-1", 10, 0.25)) == (
        "^FO24,16^BY2^BCN,80,Y,N,N^FD>:AB-1^FS"
    )
    assert body(BarcodeElement(3, 2, BarcodeKind.CODE128, "1234", 10, 0.25)) == (
        "^FO24,16^BY2^BCN,80,Y,N,N^FD>;1234^FS"
    )


def test_qr_and_datamatrix() -> None:
    assert body(QrElement(1, 1, "https://x.at/p?a=1&b=^~_", 0.5, QrLevel.M)) == (
        "^FO8,8^BQN,2,4^FH^FDMA,https://x.at/p?a=1&b=_5E_7E_5F^FS"
    )
    assert body(DataMatrixElement(1, 1, "SH-1", 0.5)) == "^FO8,8^BXN,4,200^FH^FDSH-1^FS"


def test_lines_and_boxes() -> None:
    assert body(LineElement(1, 2, 20, 0.3)) == "^FO8,16^GB160,2,2^FS"
    assert body(LineElement(1, 2, 20, 0.3, vertical=True)) == "^FO8,16^GB2,160,2^FS"
    assert body(BoxElement(1, 2, 20, 10, 0.5)) == "^FO8,16^GB160,80,4^FS"
    assert body(BoxElement(1, 2, 20, 10, fill=True, rounding=3)) == "^FO8,16^GB160,80,80,B,3^FS"


def test_layout_larger_than_media_and_bad_copies() -> None:
    big = TagLayout(50.8, 76.2, ())
    with pytest.raises(HangTagError) as caught:
        tag_zpl(big, M203)
    assert caught.value.code == "invalid_layout"
    with pytest.raises(HangTagError) as caught:
        tag_zpl(TagLayout(50.8, 25.4, ()), M203, 0)
    assert caught.value.code == "invalid_item"


@pytest.mark.parametrize(
    "name",
    ["Shirt\n@box x=0 y=0 w=50 h=25 fill", "^XA^FDx^FS^XZ", "~JA", "a | @qr x=1 y=1 | evil"],
)
def test_injected_product_names_print_as_literal_text(name: str) -> None:
    markup = "@tag w=50.8 h=25.4\n@text x=2 y=2 size=4 | " + mark_value(name) + "\n"
    out = tag_zpl(parse_tag_markup(markup, template="t"), M203, measure=fixed_width)
    text = out.decode("utf-8")
    # One format, one field, nothing else: no ^XA/~JA/^GB/^BQ from the data.
    assert text.count("^XA") == 1 and text.count("^XZ") == 1
    assert "~" not in text
    assert text.count("^FD") == 1 and "^GB" not in text and "^BQ" not in text
    field = text[text.index("^FD") + 3 : text.index("^FS")]
    unescaped = field.replace("_5E", "^").replace("_7E", "~").replace("_5F", "_")
    assert unescaped == name.replace("\n", " ")
