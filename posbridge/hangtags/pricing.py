"""Resolve tag items (product ids, copies, optional inline data) into template data.

For each item the product comes from the item's inline fields laid over the catalogue's
(either may be missing, not both), and one price per configured pricebook, in the
configured order, comes from the item's inline prices or else the catalogue. The
result, :class:`TagData`, carries the context dict a tag template renders; its keys are
the contract with the template author and are listed on :func:`resolve_tags`.

Everything is looked up in a few batched queries per call, and Babel formatting is
cached, so 10,000 items with two pricebooks resolve in a small fraction of a second.
Errors are :class:`~posbridge.hangtags.errors.HangTagError` with ``field`` set to the
item's path (``items[3].prices.outlet``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from posbridge.hangtags.catalog import (
    MAX_ID_LENGTH,
    MAX_TEXT_LENGTH,
    Catalog,
    Product,
    resolve_ref,
)
from posbridge.hangtags.errors import (
    INVALID_GTIN,
    INVALID_ITEM,
    INVALID_PRICE,
    INVALID_PRICEBOOK_REF,
    INVALID_PRODUCT,
    MISSING_PRICE,
    UNKNOWN_PRICEBOOK,
    UNKNOWN_PRODUCT,
    HangTagError,
)
from posbridge.hangtags.gtin import normalize_gtin
from posbridge.hangtags.money import (
    locale_name,
    money_formatter,
    parse_amount,
    validate_currency,
)

__all__ = [
    "MAX_COPIES",
    "MissingPrice",
    "PricingRules",
    "TagData",
    "TagItem",
    "resolve_tags",
]

#: Copies of one tag per item; more is a typo (a GTIN pasted into the copies field).
MAX_COPIES = 10_000

_TEXT_FIELDS = ("name", "gtin", "size", "colour", "brand")
_HUNDRED = Decimal(100)
_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
_NO_INLINE: Mapping[str, tuple[Decimal | None, str]] = MappingProxyType({})
_WHOLE = Decimal(1)


class MissingPrice(StrEnum):
    """What to do when a product has no price in one of the configured pricebooks."""

    OMIT = "omit"  # the price is ``found: False`` and the template leaves it off
    REJECT = "reject"  # the whole request fails with ``missing_price``


@dataclass(frozen=True)
class PricingRules:
    """The store's tag pricing: pricebooks in display order, as configured.

    Entries are full references (``storefront-catalog-gb.regular``) or bare pricebook
    names completed with ``default_catalog`` (``outlet``).
    """

    pricebooks: tuple[str, ...]
    default_catalog: str
    missing_price: MissingPrice = MissingPrice.OMIT


@dataclass(frozen=True)
class TagItem:
    """One product to tag, as a request names it.

    ``product``: inline fields (``name, gtin, size, colour, brand, attributes``; other
    keys become attributes) laid over the catalogue's product; attributes are merged key
    by key. ``prices``: inline prices keyed by pricebook as configured (``"outlet"``) or
    by full reference; a value is an amount (``"39.00"``), ``{"amount": "39.00",
    "currency": "GBP"}`` (the currency may be left out when the pricebook is in the
    catalogue), or ``None`` for "no price in this pricebook".
    """

    product_id: str
    copies: int = 1
    product: Mapping[str, Any] | None = None
    prices: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TagData:
    """A resolved tag: what to print, how many times, and the template context."""

    product_id: str
    copies: int
    gtin: str
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Book:
    label: str  # the pricebook part of the reference, what templates call it
    ref: str
    configured: str


def _books(rules: PricingRules) -> list[_Book]:
    books: list[_Book] = []
    seen: dict[str, str] = {}
    for configured in rules.pricebooks:
        ref = resolve_ref(configured, rules.default_catalog)
        if ref in seen:
            raise HangTagError(
                INVALID_PRICEBOOK_REF,
                f"pricebook {configured!r} is configured twice (also as {seen[ref]!r})",
            )
        seen[ref] = configured
        books.append(_Book(ref.partition(".")[2], ref, configured))
    return books


def _check_item(item: TagItem, where: str) -> None:
    pid = item.product_id
    if not isinstance(pid, str) or not pid.strip() or len(pid) > MAX_ID_LENGTH:
        raise HangTagError(
            INVALID_ITEM,
            f"{where}: product_id must be 1-{MAX_ID_LENGTH} characters, not {pid!r}",
            field=f"{where}.product_id",
        )
    copies = item.copies
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise HangTagError(
            INVALID_ITEM,
            f"{where}: copies must be a whole number from 1 to {MAX_COPIES}, not {copies!r}",
            field=f"{where}.copies",
        )


def _inline_text(value: object, path: str, pid: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and len(value) <= MAX_TEXT_LENGTH:
        return value.strip()
    raise HangTagError(
        INVALID_PRODUCT,
        f"product {pid!r}: {path.rpartition('.')[2]} must be text of at most "
        f"{MAX_TEXT_LENGTH} characters",
        field=path,
    )


def _apply_inline_product(
    fields: dict[str, str],
    attributes: dict[str, str],
    inline: Mapping[str, Any],
    pid: str,
    where: str,
) -> None:
    if not isinstance(inline, Mapping):
        raise HangTagError(
            INVALID_PRODUCT, f"product {pid!r}: product must be an object", field=where
        )
    for key, value in inline.items():
        name = "colour" if key == "color" else key
        if name in _TEXT_FIELDS:
            fields[name] = _inline_text(value, f"{where}.{key}", pid)
        elif name == "attributes":
            if not isinstance(value, Mapping):
                raise HangTagError(
                    INVALID_PRODUCT,
                    f"product {pid!r}: attributes must be an object of text values",
                    field=f"{where}.attributes",
                )
            for attr, text in value.items():
                attributes[str(attr)] = _inline_text(text, f"{where}.attributes.{attr}", pid)
        elif name == "id":
            if value != pid:
                raise HangTagError(
                    INVALID_PRODUCT,
                    f"product {pid!r}: inline id {value!r} differs from product_id",
                    field=f"{where}.id",
                )
        else:
            attributes[str(key)] = _inline_text(value, f"{where}.{key}", pid)


def _inline_price(
    value: object, pid: str, book: _Book, stored_currency: str | None, path: str
) -> tuple[Decimal | None, str]:
    """(amount or None, currency) of one inline price."""
    currency_value: object = stored_currency
    amount_value: object = value
    if isinstance(value, Mapping):
        unknown = set(value) - {"amount", "currency"}
        if unknown:
            raise HangTagError(
                INVALID_PRICE,
                f"product {pid!r}, pricebook {book.ref}: unknown price keys "
                f"{', '.join(sorted(map(str, unknown)))} (use amount, currency)",
                field=path,
            )
        amount_value = value.get("amount")
        if value.get("currency") is not None:
            currency_value = value["currency"]
    if currency_value is None:
        if amount_value is None:
            return None, ""  # "no price here" needs no currency
        raise HangTagError(
            INVALID_PRICE,
            f"product {pid!r}: pricebook {book.ref} is not in the catalogue, so its "
            "inline price needs a currency",
            field=path,
        )
    try:
        currency = validate_currency(currency_value)  # type: ignore[arg-type]
        if amount_value is None:
            return None, currency
        return parse_amount(amount_value, currency), currency  # type: ignore[arg-type]
    except HangTagError as exc:
        raise HangTagError(
            exc.code, f"product {pid!r}, pricebook {book.ref}: {exc.message}", field=path
        ) from None


def _entry(
    book: _Book,
    amount: Decimal | None,
    currency: str,
    formatters: dict[str, Callable[[Decimal], str]],
    locale_id: str,
) -> dict[str, Any]:
    """One price entry of the context (see ``resolve_tags``)."""
    text = ""
    if amount is not None:
        formatter = formatters.get(currency)
        if formatter is None:
            formatter = formatters[currency] = money_formatter(currency, locale_id)
        text = formatter(amount)
    return {
        "pricebook": book.label,
        "ref": book.ref,
        "amount": amount,
        "currency": currency,
        "text": text,
        "found": amount is not None,
    }


def _product_context(
    pid: str, stored: Product | None, inline: Mapping[str, Any] | None, where: str
) -> dict[str, Any]:
    """The template's ``product``: inline fields laid over the stored product."""
    if stored is None and inline is None:
        raise HangTagError(
            UNKNOWN_PRODUCT,
            f"product {pid!r} is not in the catalogue and the item gives no product data",
            field=f"{where}.product_id",
        )
    if stored is not None:
        fields = {
            "id": pid,
            "name": stored.name,
            "gtin": stored.gtin,
            "size": stored.size,
            "colour": stored.colour,
            "brand": stored.brand,
        }
        # Read-only and shared with other tags of the product unless inline data
        # changes it; a copy per tag would double the objects a batch allocates.
        attributes: Mapping[str, str] = stored.attributes
    else:
        fields = {"id": pid, "name": "", "gtin": "", "size": "", "colour": "", "brand": ""}
        attributes = _NO_ATTRIBUTES
    if inline is not None:
        stored_gtin = fields["gtin"]
        merged = dict(attributes)
        _apply_inline_product(fields, merged, inline, pid, f"{where}.product")
        attributes = merged
        # Stored GTINs were normalised on import; only inline ones need it here.
        if fields["gtin"] and fields["gtin"] != stored_gtin:
            try:
                fields["gtin"] = normalize_gtin(fields["gtin"])
            except HangTagError as exc:
                raise HangTagError(
                    INVALID_GTIN,
                    f"product {pid!r}: {exc.message}",
                    field=f"{where}.product.gtin",
                ) from None
    context: dict[str, Any] = fields
    context["attributes"] = attributes
    return context


def _inline_prices(
    given: Mapping[str, Any] | None,
    pid: str,
    by_key: Mapping[str, _Book],
    books: Sequence[_Book],
    currencies: Mapping[str, str],
    default_catalog: str,
    where: str,
) -> Mapping[str, tuple[Decimal | None, str]]:
    """An item's inline prices by full reference: (amount or None, currency)."""
    if given is None:
        return _NO_INLINE
    inline: dict[str, tuple[Decimal | None, str]] = {}
    if not isinstance(given, Mapping):
        raise HangTagError(
            INVALID_PRICE,
            f"product {pid!r}: prices must be an object keyed by pricebook",
            field=f"{where}.prices",
        )
    for key, value in given.items():
        path = f"{where}.prices.{key}"
        book = by_key.get(key)
        if book is None and isinstance(key, str) and "." not in key:
            # A bare name for a pricebook configured by its full reference.
            book = by_key.get(f"{default_catalog}.{key}")
        if book is None:
            raise HangTagError(
                INVALID_PRICEBOOK_REF,
                f"product {pid!r}: {key!r} is not one of the configured pricebooks "
                f"({', '.join(b.configured for b in books) or 'none'})",
                field=path,
            )
        inline[book.ref] = _inline_price(value, pid, book, currencies.get(book.ref), path)
    return inline


def resolve_tags(
    catalog: Catalog | None,
    items: Sequence[TagItem],
    rules: PricingRules,
    locale: str,
) -> list[TagData]:
    """Resolve ``items`` into tag data, in order; all or nothing (the first bad item raises).

    ``catalog`` may be ``None`` when every item carries its product and prices inline.
    ``locale`` is ``en_GB`` or ``en-GB``. Each ``TagData.context`` is::

        product:     {"id", "name", "gtin", "size", "colour", "brand", "attributes": {...}}
                     (text fields not known are ""; attributes is a read-only mapping)
        prices:      [{"pricebook": "outlet", "ref": "storefront-catalog-gb.outlet",
                       "amount": Decimal | None, "currency": "GBP",
                       "text": "£39.00" | "", "found": bool}, ...]   in configured order
        price:       the selling price: the lowest found price in the currency of the
                     first found price (one of the dicts above), or None
        compare_at:  the highest found price in that currency if higher than price, else None
        percent_off: int, (compare_at - price) / compare_at in percent rounded half-up, or None
        locale:      "en_GB"
        copies:      int

    Contexts are read-only: price entries and attribute mappings are shared between the
    tags that show the same values.

    Raises ``HangTagError``: ``unknown_product`` (neither inline nor in the catalogue),
    ``unknown_pricebook`` (a configured pricebook neither in the catalogue nor inline),
    ``missing_price`` (under ``MissingPrice.REJECT``), ``invalid_gtin``,
    ``invalid_price``, ``invalid_product``, ``invalid_item``, ``invalid_locale``,
    ``invalid_pricebook_ref``.
    """
    locale_id = locale_name(locale)
    books = _books(rules)
    by_key: dict[str, _Book] = {}
    for book in books:
        by_key[book.configured] = by_key[book.ref] = book
    for index, item in enumerate(items):
        pid, copies = item.product_id, item.copies
        # Checked in full only when the quick test fails: this runs 10,000 times a batch.
        if not (
            type(pid) is str
            and 0 < len(pid) <= MAX_ID_LENGTH
            and type(copies) is int
            and 1 <= copies <= MAX_COPIES
            and pid.strip()
        ):
            _check_item(item, f"items[{index}]")

    ids = [item.product_id for item in items]
    if catalog is not None:
        with catalog.snapshot():  # one consistent view, even while an import commits
            currencies = catalog.pricebook_currencies([book.ref for book in books])
            stored_products = catalog.products(ids)
            stored_prices = catalog.prices(list(currencies), ids)
    else:
        currencies, stored_products, stored_prices = {}, {}, {}
    reject = rules.missing_price is MissingPrice.REJECT
    formatters: dict[str, Callable[[Decimal], str]] = {}
    # Markdown batches repeat a few hundred amounts across thousands of tags, so each
    # price entry is built once and shared by the tags that show it (contexts are
    # read-only; the template sandbox cannot change them). This halves the objects a
    # batch allocates, and with them the garbage collector's work.
    entries: dict[tuple[str, Decimal | None, str], dict[str, Any]] = {}

    tags: list[TagData] = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        pid = item.product_id
        product = _product_context(pid, stored_products.get(pid), item.product, where)
        inline = _inline_prices(
            item.prices, pid, by_key, books, currencies, rules.default_catalog, where
        )

        prices: list[dict[str, Any]] = []
        # The selling price and compare-at price are tracked while the list is built:
        # the first found price fixes the currency; strict comparisons keep the earlier
        # configured pricebook on ties.
        low: dict[str, Any] | None = None
        high: dict[str, Any] | None = None
        for book in books:
            if book.ref in inline:
                amount, currency = inline[book.ref]
            elif book.ref in currencies:
                amount, currency = stored_prices.get((book.ref, pid)), currencies[book.ref]
            else:
                raise HangTagError(
                    UNKNOWN_PRICEBOOK,
                    f"pricebook {book.ref} (configured as {book.configured!r}) is not in the "
                    f"catalogue and product {pid!r} has no inline price for it",
                    field=f"{where}.prices",
                )
            if amount is None and reject:
                raise HangTagError(
                    MISSING_PRICE,
                    f"product {pid!r} has no price in pricebook {book.ref}",
                    field=f"{where}.prices",
                )
            entry = entries.get((book.ref, amount, currency))
            if entry is None:
                entry = entries[(book.ref, amount, currency)] = _entry(
                    book, amount, currency, formatters, locale_id
                )
            prices.append(entry)
            if amount is None:
                continue
            if low is None or high is None:
                low = high = entry
            elif currency == low["currency"]:
                if amount < low["amount"]:
                    low = entry
                if amount > high["amount"]:
                    high = entry
        compare_at = high if high is not low else None
        percent_off = None
        if low is not None and compare_at is not None:
            off = (compare_at["amount"] - low["amount"]) * _HUNDRED / compare_at["amount"]
            percent_off = int(off.quantize(_WHOLE, rounding=ROUND_HALF_UP))
        context: dict[str, Any] = {
            "product": product,
            "prices": prices,
            "price": low,
            "compare_at": compare_at,
            "percent_off": percent_off,
            "locale": locale_id,
            "copies": item.copies,
        }
        tags.append(TagData(pid, item.copies, product["gtin"], context))
    return tags
