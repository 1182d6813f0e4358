"""Tag markup -> TagLayout: elements, options, errors naming the line, data injection."""

from __future__ import annotations

import pytest

from posbridge.hangtags.layout import (
    Align,
    BarcodeElement,
    BarcodeKind,
    BoxElement,
    DataMatrixElement,
    LineElement,
    QrElement,
    QrLevel,
    TextElement,
)
from posbridge.hangtags.markup import TagTemplateError, mark_value, parse_tag_markup

HEAD = "@tag w=50.8 h=76.2\n"


def parse(body: str) -> tuple[object, ...]:
    return parse_tag_markup(HEAD + body, template="t").elements


def test_every_element_kind() -> None:
    layout = parse_tag_markup(
        HEAD
        + "@text x=3 y=4 w=44.8 size=4 align=center lines=2 bold | Shirt\n"
        + "  @text x=3 y=20 size=9 right strike reverse fit | € 9,00  \n"
        + "\n"
        + "@barcode ean13 x=6 y=50 h=15 module=0.375 notext | 4006381333931\n"
        + "@barcode code128 x=3 y=30 | AB-12\n"
        + "@qr x=30 y=5 module=0.5 level=H | https://example.com/p/1\n"
        + "@datamatrix x=3 y=5 | SH-1\n"
        + "@line x=3 y=45 w=44.8 t=0.3\n"
        + "@line x=3 y=45 h=10\n"
        + "@box x=1 y=1 w=48.8 h=74.2 t=0.5 fill round=2\n",
        template="t",
    )
    assert (layout.width_mm, layout.height_mm) == (50.8, 76.2)
    assert layout.elements == (
        TextElement(3, 4, 44.8, 4, "Shirt", Align.CENTER, 2, bold=True),
        TextElement(3, 20, 44.8, 9, "€ 9,00", Align.RIGHT, strike=True, reverse=True, fit=True),
        BarcodeElement(6, 50, BarcodeKind.EAN13, "4006381333931", 15, 0.375, text=False),
        BarcodeElement(3, 30, BarcodeKind.CODE128, "AB-12"),
        QrElement(30, 5, "https://example.com/p/1", 0.5, QrLevel.H),
        DataMatrixElement(3, 5, "SH-1"),
        LineElement(3, 45, 44.8, 0.3),
        LineElement(3, 45, 10, 0.3, vertical=True),
        BoxElement(1, 1, 48.8, 74.2, 0.5, fill=True, rounding=2),
    )


def test_text_width_defaults_to_the_tag_minus_both_margins() -> None:
    (text,) = parse("@text x=3 y=4 size=4 | a\n")
    assert isinstance(text, TextElement)
    assert text.width_mm == pytest.approx(44.8)


def test_gtin_barcode_picks_the_symbology_from_the_gtin() -> None:
    elements = parse(
        "@barcode gtin x=3 y=3 | 4006381333931\n"
        "@barcode gtin x=3 y=20 | 036000291452\n"
        "@barcode gtin x=3 y=40 | 96385074\n"
        "@barcode gtin x=3 y=60 h=5 | 9638507\n"
    )
    kinds = [(e.kind, e.data) for e in elements if isinstance(e, BarcodeElement)]
    assert kinds == [
        (BarcodeKind.EAN13, "4006381333931"),
        (BarcodeKind.UPCA, "036000291452"),
        (BarcodeKind.EAN8, "96385074"),
        (BarcodeKind.EAN8, "96385074"),  # the check digit completed
    ]


def test_empty_value_leaves_the_element_off() -> None:
    assert parse("@text x=3 y=4 size=4 strike | \n@qr x=3 y=3 |\n") == ()
    marked = mark_value(None)
    assert parse(f"@text x=3 y=4 size=4 | {marked}  \n") == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("@text x=3 y=4 sise=4 | a", "unknown option 'sise' for @text"),
        ("@text x=3 y=4 | a", "@text needs size="),
        ("@text x=3 y=74 size=4 | a", "off the 76.2 mm tag"),
        ("@text x=3 y=4 w=60 size=4 | a", "off the 50.8 mm tag"),
        ("@box x=1 y=1 w=49 h=80", "off the 76.2 mm tag"),
        ("@text x=three y=4 size=4 | a", "x='three' is not a number"),
        ("@text x=3 y=4 size=4 lines=0 | a", "lines='0' must be a whole number 1..20"),
        ("@text x=3 y=4 size=4 align=middle | a", "align='middle' must be one of"),
        ("@text x=3 y=4 size=4 bold bold | a", "option 'bold' given twice"),
        ("@image x=3 y=4 | a", "unknown directive '@image'"),
        ("@text x=3 y=4 size=4", "needs '| value'"),
        ("@line x=3 y=4 w=3 | a", "takes no value"),
        ("@line x=3 y=4", "either w= (horizontal) or h= (vertical)"),
        ("@barcode x=3 y=4 | 1", "needs a symbology first"),
        ("@barcode ean13 x=3 y=4 | 4006381333932", "check digit should be 1, not 2"),
        ("@barcode ean13 x=40 y=4 module=0.5 | 4006381333931", "off the 50.8 mm tag"),
        ("@barcode code128 x=3 y=4 | a>b", "printable ASCII except ^ > ~"),
        ("plain text", "must start with a directive"),
        ("@tag w=10 h=10", "@tag must be the first line"),
    ],
)
def test_errors_name_template_line_and_problem(line: str, message: str) -> None:
    with pytest.raises(TagTemplateError) as caught:
        parse_tag_markup(HEAD + "@line x=3 y=3 w=3\n" + line + "\n", template="mytag")
    error = caught.value
    assert error.code in ("invalid_layout", "invalid_gtin")
    assert error.template == "mytag"
    assert error.output_line == 3
    assert message in str(error)
    assert str(error).startswith("mytag")


def test_error_names_the_template_source_line() -> None:
    source = (
        "{# c #}\n@tag w=50.8 h=76.2\n{% if 1 %}\n@text x=3 y=4 sise=4 | {{ x }}\n{% endif %}\n"
    )
    markup = "@tag w=50.8 h=76.2\n@text x=3 y=4 sise=4 | " + mark_value("a") + "\n"
    with pytest.raises(TagTemplateError) as caught:
        parse_tag_markup(markup, template="mytag", source=source)
    assert caught.value.line == 4
    assert str(caught.value).startswith("mytag, line 4: unknown option 'sise'")


def test_missing_tag_line_and_empty_output() -> None:
    with pytest.raises(TagTemplateError, match="first line must be '@tag"):
        parse_tag_markup("@text x=1 y=1 size=3 | a", template="t")
    with pytest.raises(TagTemplateError, match="printed nothing"):
        parse_tag_markup("\n  \n", template="t")


@pytest.mark.parametrize(
    "evil",
    ["x\n@box x=0 y=0 w=50 h=76 fill", "a | @box x=0 y=0 w=5 h=5", "@box x=0 y=0 w=5 h=5"],
)
def test_data_never_becomes_markup(evil: str) -> None:
    line = "@text x=3 y=4 size=4 | " + mark_value(evil)
    (element,) = parse(line + "\n")
    assert isinstance(element, TextElement)
    # Line breaks become spaces; everything else is kept as literal text.
    assert element.text == evil.replace("\n", " ")
    # A value on a line of its own is no directive either.
    with pytest.raises(TagTemplateError, match="must start with a directive"):
        parse(mark_value(evil) + "\n")


def test_data_in_options_must_be_one_token() -> None:
    (element,) = parse(f"@text x={mark_value('3')} y={mark_value(4)} size=4 | a\n")
    assert isinstance(element, TextElement)
    assert (element.x_mm, element.y_mm) == (3, 4)
    with pytest.raises(TagTemplateError, match="must be a number or a word"):
        parse(f"@text x={mark_value('3 strike')} y=4 size=4 | a\n")


def test_datamatrix_refuses_tilde() -> None:
    with pytest.raises(TagTemplateError, match="may not contain '~'"):
        parse("@datamatrix x=3 y=3 | a~1\n")
