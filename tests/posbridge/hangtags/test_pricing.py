"""Resolution of tag items into template data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from posbridge.hangtags.catalog import Catalog
from posbridge.hangtags.errors import HangTagError
from posbridge.hangtags.pricing import (
    MissingPrice,
    PricingRules,
    TagItem,
    resolve_tags,
)

CATALOG = "storefront-catalog-gb"
REGULAR = f"{CATALOG}.regular"
OUTLET = f"{CATALOG}.outlet"
RULES = PricingRules(pricebooks=(REGULAR, "outlet"), default_catalog=CATALOG)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    store = Catalog(tmp_path / "catalog.db")
    store.import_products(
        "id,gtin,name,size,colour,brand,material\n"
        "SHIRT,4006381333931,Oxford shirt,M,blue,Acme,cotton\n"
        "HAT,,Hat,,,,wool\n"
        "SOCK,96385074,Sock,42,red,Acme,\n",
        "csv",
    )
    store.put_pricebook(
        REGULAR, "GBP", [("SHIRT", Decimal("49")), ("HAT", Decimal("20")), ("SOCK", Decimal(8))]
    )
    store.put_pricebook(OUTLET, "GBP", [("SHIRT", Decimal("39")), ("SOCK", Decimal(8))])
    yield store
    store.close()


def error_of(*args: Any, **kwargs: Any) -> HangTagError:
    with pytest.raises(HangTagError) as info:
        resolve_tags(*args, **kwargs)
    return info.value


def test_full_context_for_a_catalogue_product(catalog: Catalog) -> None:
    [tag] = resolve_tags(catalog, [TagItem("SHIRT", copies=3)], RULES, "en-GB")
    assert (tag.product_id, tag.copies, tag.gtin) == ("SHIRT", 3, "4006381333931")
    regular = {
        "pricebook": "regular",
        "ref": REGULAR,
        "amount": Decimal("49.00"),
        "currency": "GBP",
        "text": "£49.00",
        "found": True,
    }
    outlet = {
        "pricebook": "outlet",
        "ref": OUTLET,
        "amount": Decimal("39.00"),
        "currency": "GBP",
        "text": "£39.00",
        "found": True,
    }
    assert tag.context == {
        "product": {
            "id": "SHIRT",
            "name": "Oxford shirt",
            "gtin": "4006381333931",
            "size": "M",
            "colour": "blue",
            "brand": "Acme",
            "attributes": {"material": "cotton"},
        },
        "prices": [regular, outlet],
        "price": outlet,
        "compare_at": regular,
        "percent_off": 20,  # 10 / 49 = 20.4 %
        "locale": "en_GB",
        "copies": 3,
    }
    # price and compare_at are the very dicts of the list, so templates can compare them.
    assert tag.context["price"] is tag.context["prices"][1]
    assert tag.context["compare_at"] is tag.context["prices"][0]


def test_missing_price_is_omitted(catalog: Catalog) -> None:
    [hat] = resolve_tags(catalog, [TagItem("HAT")], RULES, "en_GB")
    assert hat.gtin == ""
    assert hat.context["product"]["gtin"] == ""
    assert hat.context["product"]["size"] == ""
    outlet = hat.context["prices"][1]
    assert outlet == {
        "pricebook": "outlet",
        "ref": OUTLET,
        "amount": None,
        "currency": "GBP",
        "text": "",
        "found": False,
    }
    assert hat.context["price"] is hat.context["prices"][0]
    assert (hat.context["compare_at"], hat.context["percent_off"]) == (None, None)


def test_missing_price_is_rejected_under_reject(catalog: Catalog) -> None:
    rules = PricingRules((REGULAR, "outlet"), CATALOG, MissingPrice.REJECT)
    error = error_of(catalog, [TagItem("SHIRT"), TagItem("HAT")], rules, "en_GB")
    assert error.code == "missing_price"
    assert "'HAT'" in str(error) and OUTLET in str(error)
    assert error.field == "items[1].prices"


def test_equal_prices_have_no_compare_at(catalog: Catalog) -> None:
    [sock] = resolve_tags(catalog, [TagItem("SOCK")], RULES, "en_GB")
    assert sock.context["price"] is sock.context["prices"][0]  # ties: first configured
    assert (sock.context["compare_at"], sock.context["percent_off"]) == (None, None)


def test_no_price_at_all() -> None:
    rules = PricingRules(("a.b",), "a")
    [tag] = resolve_tags(
        None, [TagItem("X", product={"name": "x"}, prices={"b": None})], rules, "en_GB"
    )
    assert tag.context["prices"][0]["found"] is False
    assert tag.context["prices"][0]["currency"] == ""
    assert (tag.context["price"], tag.context["compare_at"]) == (None, None)


def test_percent_off_rounds_half_up(catalog: Catalog) -> None:
    # 1 / 200 = 0.5 %: half-up gives 1 (banker's rounding would give 0).
    item = TagItem("SHIRT", prices={"regular": "200.00", "outlet": "199.00"})
    [tag] = resolve_tags(catalog, [item], PricingRules(("regular", "outlet"), CATALOG), "en_GB")
    assert tag.context["percent_off"] == 1
    item = TagItem("SHIRT", prices={"regular": "3", "outlet": "2"})  # 33.3 %
    [tag] = resolve_tags(catalog, [item], PricingRules(("regular", "outlet"), CATALOG), "en_GB")
    assert tag.context["percent_off"] == 33


def test_selling_price_stays_in_the_first_found_currency(catalog: Catalog) -> None:
    catalog.put_pricebook("eu.sale", "EUR", [("SHIRT", Decimal("5"))])
    rules = PricingRules((REGULAR, "eu.sale", "outlet"), CATALOG)
    [tag] = resolve_tags(catalog, [TagItem("SHIRT")], rules, "de-AT")
    texts = [p["text"] for p in tag.context["prices"]]
    assert texts == ["£\u00a049,00", "€\u00a05,00", "£\u00a039,00"]
    assert tag.context["price"]["ref"] == OUTLET  # EUR 5 is cheaper, but another currency
    assert tag.context["compare_at"]["ref"] == REGULAR
    assert tag.context["locale"] == "de_AT"


def test_unknown_product(catalog: Catalog) -> None:
    error = error_of(catalog, [TagItem("SHIRT"), TagItem("GHOST")], RULES, "en_GB")
    assert (error.code, error.not_found, error.field) == (
        "unknown_product",
        True,
        "items[1].product_id",
    )
    assert "'GHOST'" in str(error)


def test_unknown_pricebook(catalog: Catalog) -> None:
    rules = PricingRules((REGULAR, "clearance"), CATALOG)
    error = error_of(catalog, [TagItem("SHIRT")], rules, "en_GB")
    assert (error.code, error.not_found) == ("unknown_pricebook", True)
    assert f"{CATALOG}.clearance" in str(error) and "'clearance'" in str(error)
    # Given inline (with its currency) for the item, it needs no catalogue entry.
    item = TagItem("SHIRT", prices={"clearance": {"amount": "19.99", "currency": "GBP"}})
    [tag] = resolve_tags(catalog, [item], rules, "en_GB")
    assert tag.context["prices"][1]["text"] == "£19.99"
    assert tag.context["percent_off"] == 59  # 29.01 / 49 = 59.2 %
    # Without a currency there is nothing to format it with.
    item = TagItem("SHIRT", prices={"clearance": "19.99"})
    error = error_of(catalog, [item], rules, "en_GB")
    assert (error.code, error.field) == ("invalid_price", "items[0].prices.clearance")
    assert "needs a currency" in str(error)


def test_inline_product_and_prices_without_catalogue() -> None:
    rules = PricingRules(("outlet",), "shop")
    item = TagItem(
        "NEW-1",
        copies=2,
        product={"name": "Scarf", "gtin": "400638133393", "color": "grey", "fabric": "silk"},
        prices={"shop.outlet": {"amount": "4900", "currency": "JPY"}},
    )
    [tag] = resolve_tags(None, [item], rules, "ja_JP")
    assert tag.gtin == "4006381333931"  # 12 digits, not a UPC-A: EAN-13 completed
    assert tag.context["product"] == {
        "id": "NEW-1",
        "name": "Scarf",
        "gtin": "4006381333931",
        "size": "",
        "colour": "grey",
        "brand": "",
        "attributes": {"fabric": "silk"},
    }
    assert tag.context["prices"][0]["text"] == "￥4,900"
    assert tag.context["copies"] == 2


def test_inline_fields_override_the_catalogue(catalog: Catalog) -> None:
    item = TagItem(
        "SHIRT",
        product={"name": "Oxford shirt – last sizes", "attributes": {"fit": "slim"}},
        prices={OUTLET: "29.00"},
    )
    [tag] = resolve_tags(catalog, [item], RULES, "en_GB")
    product = tag.context["product"]
    assert product["name"] == "Oxford shirt – last sizes"
    assert product["colour"] == "blue"  # not given inline: the catalogue's
    assert product["attributes"] == {"material": "cotton", "fit": "slim"}
    assert [p["text"] for p in tag.context["prices"]] == ["£49.00", "£29.00"]
    # The override is the item's only: the next lookup sees the catalogue again.
    [again] = resolve_tags(catalog, [TagItem("SHIRT")], RULES, "en_GB")
    assert again.context["product"]["attributes"] == {"material": "cotton"}
    assert again.context["prices"][1]["text"] == "£39.00"


def test_inline_none_hides_a_catalogue_price(catalog: Catalog) -> None:
    [tag] = resolve_tags(catalog, [TagItem("SHIRT", prices={"outlet": None})], RULES, "en_GB")
    assert tag.context["prices"][1]["found"] is False
    assert tag.context["compare_at"] is None


@pytest.mark.parametrize(
    ("item", "code", "field", "fragment"),
    [
        (
            TagItem("SHIRT", product={"gtin": "4006381333932"}),
            "invalid_gtin",
            "items[0].product.gtin",
            "'SHIRT'",
        ),
        (
            TagItem("SHIRT", prices={"outlet": 39.0}),
            "invalid_price",
            "items[0].prices.outlet",
            "float",
        ),
        (
            TagItem("SHIRT", prices={"outlet": "39.001"}),
            "invalid_price",
            "items[0].prices.outlet",
            "more decimals than GBP",
        ),
        (
            TagItem("SHIRT", prices={"outlet": {"amount": "1", "curr": "GBP"}}),
            "invalid_price",
            "items[0].prices.outlet",
            "unknown price keys curr",
        ),
        (
            TagItem("SHIRT", prices={"outlet": {"amount": "1", "currency": "XXY"}}),
            "invalid_currency",
            "items[0].prices.outlet",
            "XXY",
        ),
        (
            TagItem("SHIRT", prices={"sale": "1"}),
            "invalid_pricebook_ref",
            "items[0].prices.sale",
            "not one of the configured pricebooks",
        ),
        (TagItem("SHIRT", copies=0), "invalid_item", "items[0].copies", "copies"),
        (TagItem("SHIRT", copies=10_001), "invalid_item", "items[0].copies", "copies"),
        (TagItem("SHIRT", copies=True), "invalid_item", "items[0].copies", "copies"),
        (TagItem("", copies=1), "invalid_item", "items[0].product_id", "product_id"),
        (
            TagItem("SHIRT", product={"name": 5}),
            "invalid_product",
            "items[0].product.name",
            "'SHIRT'",
        ),
        (
            TagItem("SHIRT", product={"id": "HAT"}),
            "invalid_product",
            "items[0].product.id",
            "differs",
        ),
        (
            TagItem("SHIRT", product={"attributes": "x"}),
            "invalid_product",
            "items[0].product.attributes",
            "attributes",
        ),
    ],
)
def test_invalid_items(
    catalog: Catalog, item: TagItem, code: str, field: str, fragment: str
) -> None:
    error = error_of(catalog, [item], RULES, "en_GB")
    assert (error.code, error.field, error.not_found) == (code, field, False)
    assert fragment in str(error)


def test_invalid_rules_and_locale(catalog: Catalog) -> None:
    twice = PricingRules(("outlet", OUTLET), CATALOG)
    assert error_of(catalog, [TagItem("SHIRT")], twice, "en_GB").code == "invalid_pricebook_ref"
    bad = PricingRules(("outlet/x",), CATALOG)
    assert error_of(catalog, [TagItem("SHIRT")], bad, "en_GB").code == "invalid_pricebook_ref"
    assert error_of(catalog, [TagItem("SHIRT")], RULES, "xx-YY").code == "invalid_locale"


def test_items_keep_their_order_and_repeat(catalog: Catalog) -> None:
    items = [TagItem("SOCK"), TagItem("SHIRT", copies=2), TagItem("SOCK", copies=5)]
    tags = resolve_tags(catalog, items, RULES, "en_GB")
    assert [(t.product_id, t.copies) for t in tags] == [("SOCK", 1), ("SHIRT", 2), ("SOCK", 5)]
    assert resolve_tags(catalog, [], RULES, "en_GB") == []


@pytest.mark.slow
def test_resolve_speed(tmp_path: Path) -> None:
    count = 10_000
    store = Catalog(tmp_path / "catalog.db")
    try:
        store.import_products(
            ["id,gtin,name,size,colour,brand,material\n"]
            + [f"P{i},{i:07d},Product {i},M,blue,Acme,cotton\n" for i in range(count * 2)],
            "csv",
        )
        store.put_pricebook(
            REGULAR, "GBP", [(f"P{i}", Decimal(f"{i % 400}.99")) for i in range(count * 2)]
        )
        store.put_pricebook(
            OUTLET, "GBP", [(f"P{i}", Decimal(f"{i % 300}.50")) for i in range(0, count * 2, 2)]
        )
        items = [TagItem(f"P{i}") for i in range(count)]
        wall, cpu = [], []
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.process_time()
            tags = resolve_tags(store, items, RULES, "en_GB")
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        print(
            f"\nresolve {count} items x 2 pricebooks: best {min(wall) * 1000:.0f} ms wall, "
            f"{min(cpu) * 1000:.0f} ms CPU"
        )
        assert len(tags) == count
        assert tags[2].context["prices"][1]["text"] == "£2.50"
        assert tags[3].context["prices"][1]["found"] is False
        # CPU time, best of five: the test box is shared, and wall time there measures
        # the neighbours as much as this code.
        assert min(cpu) < 0.5
    finally:
        store.close()
