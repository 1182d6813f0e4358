"""Receipt templates: markup, filters, the sandbox, error codes with places, the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from drivers.escpos.encoder import Align, Symbology, TextSize
from posbridge.receipts.document import (
    BarcodeBlock,
    ColumnsBlock,
    CutBlock,
    DrawerBlock,
    FeedBlock,
    QrBlock,
    ReceiptDocument,
    RuleBlock,
    TextBlock,
)
from posbridge.receipts.templates import (
    TemplateError,
    TemplateErrorCode,
    TemplateStore,
    parse_markup,
)


@pytest.fixture
def store(tmp_path: Path) -> TemplateStore:
    return TemplateStore(tmp_path / "templates")


def _render(
    store: TemplateStore, source: str, data: dict[str, Any] | None = None
) -> ReceiptDocument:
    return store.render_source(source, data or {}, name="t")


def _error(store: TemplateStore, source: str, data: dict[str, Any] | None = None) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        _render(store, source, data)
    return info.value


# ---------------------------------------------------------------- markup


def test_every_directive_becomes_its_block() -> None:
    doc = parse_markup(
        "\n".join(
            [
                "@text[center,bold,size=double] Café",
                "plain line",
                "@columns[bold] 2 x Shirt | € 49,00",
                "@rule =",
                "@barcode[height=80,hri=no] EAN13 4006381333931",
                "@qr[module_size=4,error_level=H,right] https://example.com/r/1",
                "@feed 3",
                "@cut[partial]",
                "@drawer 5",
                "@@home",
            ]
        )
    )
    text, plain, columns, rule, barcode, qr, feed, cut, drawer, at = doc.blocks
    assert isinstance(text, TextBlock)
    assert (text.text, text.align, text.bold, text.size) == (
        "Café",
        Align.CENTER,
        True,
        TextSize.DOUBLE,
    )
    assert isinstance(plain, TextBlock) and plain.text == "plain line" and not plain.bold
    assert isinstance(columns, ColumnsBlock)
    assert (columns.left, columns.right, columns.bold) == ("2 x Shirt", "€ 49,00", True)
    assert isinstance(rule, RuleBlock) and rule.char == "="
    assert isinstance(barcode, BarcodeBlock)
    assert (barcode.symbology, barcode.data, barcode.height, barcode.hri) == (
        Symbology.EAN13,
        "4006381333931",
        80,
        False,
    )
    assert isinstance(qr, QrBlock)
    assert (qr.module_size, qr.error_level, qr.align) == (4, "H", Align.RIGHT)
    assert isinstance(feed, FeedBlock) and feed.lines == 3
    assert isinstance(cut, CutBlock) and cut.partial
    assert isinstance(drawer, DrawerBlock) and drawer.pin == 5
    assert isinstance(at, TextBlock) and at.text == "@home"


def test_blank_lines_and_indentation_are_ignored_text_spacing_is_kept() -> None:
    doc = parse_markup("\n\n    @text    indented\n   \n\t plain  \n")
    assert [b.text for b in doc.blocks] == ["   indented", "plain"]  # type: ignore[union-attr]


def test_columns_split_at_the_last_literal_pipe() -> None:
    doc = parse_markup("@columns a | b | c")
    block = doc.blocks[0]
    assert isinstance(block, ColumnsBlock) and (block.left, block.right) == ("a | b", "c")


@pytest.mark.parametrize(
    ("markup", "line", "needle"),
    [
        ("ok\n@bogus x", 2, "unknown directive '@bogus'"),
        ("ok\nok\n@text[sparkly] x", 3, "unknown option 'sparkly' for @text"),
        ("@columns no separator", 1, "left | right"),
        ("@text[bold]x", 1, "put a space"),
        ("@text[bold x", 1, "missing ']'"),
        ("@barcode CODE128", 1, "SYMBOLOGY data"),
        ("ok\n\n@barcode EAN13 123", 3, "EAN13 needs 12 or 13 digits"),
        ("@feed lots", 1, "lines"),
        ("@drawer 3", 1, "pin"),
        ("@cut now", 1, "@cut takes no text"),
        ("@text[size=huge] x", 1, "size"),
    ],
)
def test_markup_errors_name_the_output_line(markup: str, line: int, needle: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_markup(markup, template="t")
    assert info.value.code is TemplateErrorCode.OUTPUT
    assert info.value.output_line == line
    assert f"output line {line}:" in str(info.value)
    assert needle in str(info.value)


def test_empty_output_is_an_error() -> None:
    with pytest.raises(TemplateError, match="printed nothing") as info:
        parse_markup("\n  \n")
    assert info.value.code is TemplateErrorCode.OUTPUT


# ----------------------------------------------------- data cannot become markup


def test_values_cannot_inject_directives_or_lines(store: TemplateStore) -> None:
    evil = "@drawer 2\n@cut\x1b p"
    doc = _render(
        store, "{{ evil }}\n@columns {{ evil }} | {{ price }}", {"evil": evil, "price": "1 | 2"}
    )
    assert len(doc.blocks) == 2
    text, columns = doc.blocks
    assert isinstance(text, TextBlock) and text.text == "@drawer 2 @cut  p"
    assert isinstance(columns, ColumnsBlock)
    assert (columns.left, columns.right) == ("@drawer 2 @cut  p", "1 | 2")


def test_none_prints_as_nothing(store: TemplateStore) -> None:
    doc = _render(store, "a{{ x }}b", {"x": None})
    assert doc.blocks[0].text == "ab"  # type: ignore[union-attr]


# ------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("{{ '49'|money }}", {"currency": "EUR"}, "€\u00a049,00"),
        ("{{ '1234.5'|money }}", {"currency": "EUR"}, "€\u00a01.234,50"),
        ("{{ '-4.9'|money }}", {"currency": "EUR"}, "-€\u00a04,90"),
        ("{{ '0.1'|money('USD') }}", {"locale": "en_US"}, "$0.10"),
        ("{{ 1234.5|money }}", {"locale": "en_US", "currency": "USD"}, "$1,234.50"),
        ("{{ 5|money }}", {}, "€\u00a05,00"),  # currency of the locale's territory (AT)
        ("{{ '1000'|money }}", {"locale": "ja_JP", "currency": "JPY"}, "￥1,000"),
        ("{{ '20'|number }} %", {}, "20 %"),
        ("{{ '20.50'|number }}", {}, "20,50"),
        ("{{ '10.5'|number(2) }}", {"locale": "en_GB"}, "10.50"),
        ("{{ t|date }}", {"t": "2024-05-02T14:31:07+02:00"}, "02.05.2024"),
        ("{{ t|time }}", {"t": "2024-05-02T14:31:07+02:00"}, "14:31"),
        ("{{ t|datetime('short') }}", {"t": "2024-05-02T14:31:07Z"}, "02.05.24, 14:31"),
        ("{{ t|date('dd.MM.yy') }}", {"t": "2024-05-02"}, "02.05.24"),
        ("{{ t|date('long') }}", {"t": "2024-05-02", "locale": "en_US"}, "May 2, 2024"),
        ("[{{ 'ab'|pad(4) }}][{{ 7|rjust(3) }}]", {}, "[ab  ][  7]"),
        ("{% if q|decimal != 1 %}many{% endif %}", {"q": "2.000"}, "many"),
        ("{{ item.values }} {{ item.items }}", {"item": {"values": "V", "items": "I"}}, "V I"),
    ],
)
def test_filters(store: TemplateStore, source: str, data: dict[str, Any], expected: str) -> None:
    doc = _render(store, source, data)
    assert doc.blocks[0].text == expected  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("source", "data", "needle"),
    [
        ("{{ 'abc'|money }}", {"currency": "EUR"}, "money: 'abc' is not a number"),
        ("{{ x|money }}", {"x": True, "currency": "EUR"}, "not a number"),
        ("{{ 'x'|date }}", {}, "not an ISO 8601"),
        ("{{ 1|money }}", {"locale": "xx_YY"}, "locale 'xx_YY' is unknown"),
        ("{{ 1 / 0 }}", {}, "ZeroDivisionError"),
    ],
)
def test_bad_data_in_filters_is_template_data(
    store: TemplateStore, source: str, data: dict[str, Any], needle: str
) -> None:
    error = _error(store, source, data)
    assert error.code is TemplateErrorCode.DATA
    assert needle in str(error)


# ------------------------------------------------------------- error codes


def test_undefined_variable_is_named_with_its_path_and_template_line(store: TemplateStore) -> None:
    source = "@text hi\n\n@text {{ store.vat_id }}"
    error = _error(store, source, {"store": {"name": "x"}})
    assert error.code is TemplateErrorCode.DATA
    assert "store.vat_id is undefined" in error.message
    assert (error.template, error.line) == ("t", 3)


def test_undefined_inside_a_loop_names_the_item(store: TemplateStore) -> None:
    source = "{% for item in items %}\n{{ item.name }} {{ item.sku }}\n{% endfor %}"
    error = _error(store, source, {"items": [{"name": "a", "sku": "1"}, {"name": "b"}]})
    assert error.code is TemplateErrorCode.DATA
    assert "items[1].sku is undefined" in error.message
    assert error.line == 2


def test_undefined_top_level_variable(store: TemplateStore) -> None:
    error = _error(store, "{{ customer }}")
    assert error.code is TemplateErrorCode.DATA and "'customer' is undefined" in error.message


def test_optional_parts_via_is_defined_and_default(store: TemplateStore) -> None:
    source = (
        "{% if store.phone is defined %}{{ store.phone }}{% endif %}\n"
        "{{ store.vat_id | default('no id') }}"
    )
    doc = _render(store, source, {"store": {}})
    assert [b.text for b in doc.blocks] == ["no id"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ store.__class__ }}",
        "{{ store.name.__class__.__base__ }}",
        "{{ items.append(1) }}",
        "{{ store.update({'a': 1}) }}",
        "{{ 'x' * 100000000 }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ 2 ** 100000000 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_template_security(store: TemplateStore, source: str) -> None:
    error = _error(store, "ok\n" + source, {"store": {"name": "x"}, "items": []})
    assert error.code is TemplateErrorCode.SECURITY
    assert error.line == 2


def test_huge_output_is_capped(store: TemplateStore) -> None:
    source = "{% for i in range(90000) %}@text {{ 'x' * 20 }}\n{% endfor %}"
    error = _error(store, source)
    assert error.code is TemplateErrorCode.OUTPUT
    assert "longer than" in error.message


def test_too_many_blocks(store: TemplateStore) -> None:
    error = _error(store, "{% for i in range(1001) %}@feed\n{% endfor %}")
    assert error.code is TemplateErrorCode.OUTPUT and "1000 blocks" in error.message


def test_syntax_error_names_the_line(store: TemplateStore) -> None:
    error = _error(store, "ok\n{% for x in %}\n")
    assert error.code is TemplateErrorCode.SYNTAX and error.line == 2


def test_unknown_filter_is_a_syntax_error(store: TemplateStore) -> None:
    error = _error(store, "{{ x|sparkle }}")
    assert error.code is TemplateErrorCode.SYNTAX and "sparkle" in error.message


# ------------------------------------------------------------------- store


def test_builtin_sales_is_listed_and_readable(store: TemplateStore) -> None:
    assert "sales" in store.names()
    assert "@cut" in store.source("sales")


def test_missing_template(store: TemplateStore) -> None:
    for call in (lambda: store.render("nope", {}), lambda: store.source("nope")):
        with pytest.raises(TemplateError) as info:
            call()
        assert info.value.code is TemplateErrorCode.NOT_FOUND


def test_path_traversal_names_are_not_found(store: TemplateStore) -> None:
    with pytest.raises(TemplateError) as info:
        store.render("../../etc/passwd", {})
    assert info.value.code is TemplateErrorCode.NOT_FOUND


def test_include_cannot_leave_the_template_directories(store: TemplateStore) -> None:
    error = _error(store, "{% include '../../../../etc/passwd' %}")
    assert error.code is TemplateErrorCode.NOT_FOUND


def test_put_then_render_and_overwrite(store: TemplateStore) -> None:
    store.put("gift-card", "@text[center] Gutschein {{ code }}\n@cut\n")
    assert store.names() == ["gift-card", "sales"]
    doc = store.render("gift-card", {"code": "A1"})
    assert doc.blocks[0].text == "Gutschein A1"  # type: ignore[union-attr]
    store.put("gift-card", "@text second {{ code }}\n")
    assert store.render("gift-card", {"code": "A1"}).blocks[0].text == "second A1"  # type: ignore[union-attr]
    assert store.directory is not None
    assert sorted(os.listdir(store.directory)) == ["gift-card.j2"]  # no temp files left


def test_retailer_template_overrides_builtin(store: TemplateStore) -> None:
    store.put("sales", "@text own sales receipt\n")
    assert store.render("sales", {}).blocks[0].text == "own sales receipt"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["", "Sales", "../x", "a/b", "-x", "x" * 65, "x.j2"])
def test_put_refuses_bad_names(store: TemplateStore, name: str) -> None:
    with pytest.raises(TemplateError) as info:
        store.put(name, "@cut")
    assert info.value.code is TemplateErrorCode.NAME


def test_put_refuses_syntax_errors_and_keeps_the_old_version(store: TemplateStore) -> None:
    store.put("x", "@text old\n")
    with pytest.raises(TemplateError) as info:
        store.put("x", "@text {{ unclosed\n")
    assert info.value.code is TemplateErrorCode.SYNTAX and info.value.line == 1
    assert store.source("x") == "@text old\n"


def test_put_without_directory_is_readonly() -> None:
    with pytest.raises(TemplateError) as info:
        TemplateStore().put("x", "@cut")
    assert info.value.code is TemplateErrorCode.READONLY


def test_included_template_errors_name_the_included_template(store: TemplateStore) -> None:
    store.put("header", "@text[center] {{ store.name }}\n")
    store.put("main", "ok\n{% include 'header.j2' %}\n@cut\n")
    assert len(store.render("main", {"store": {"name": "S"}}).blocks) == 3
    with pytest.raises(TemplateError) as info:
        store.render("main", {"store": {}})
    assert (info.value.code, info.value.template, info.value.line) == (
        TemplateErrorCode.DATA,
        "header",
        1,
    )


@pytest.mark.parametrize(
    ("source", "needle"),
    [("{{ items[5] }}", "items[5] is undefined"), ("{{ store.path }}", "store.path is undefined")],
)
def test_undefined_paths_for_indexes_and_internal_names(
    store: TemplateStore, source: str, needle: str
) -> None:
    error = _error(store, source, {"items": [], "store": {}})
    assert error.code is TemplateErrorCode.DATA and needle in error.message
