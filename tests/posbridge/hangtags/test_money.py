"""Parsing and formatting of money."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import localedata
from babel.numbers import format_currency, get_currency_precision

from posbridge.hangtags.errors import HangTagError
from posbridge.hangtags.money import (
    format_money,
    locale_name,
    money_formatter,
    parse_amount,
    validate_currency,
)


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        ("49", "EUR", "de_AT", "€\u00a049,00"),
        ("49", "EUR", "de-AT", "€\u00a049,00"),
        ("49", "GBP", "en_GB", "£49.00"),
        ("49", "GBP", "en-GB", "£49.00"),
        ("4900", "JPY", "ja_JP", "￥4,900"),
        ("1234.5", "EUR", "de_DE", "1.234,50\u00a0€"),
        ("1234.5", "EUR", "fr_FR", "1\u202f234,50\u00a0€"),
        ("1234567.5", "INR", "en_IN", "₹12,34,567.50"),
        ("49.95", "CHF", "de_CH", "CHF\u00a049.95"),
        ("0", "GBP", "en_GB", "£0.00"),
        ("49", "gbp", "en_GB", "£49.00"),
    ],
)
def test_format_money_exact(amount: str, currency: str, locale: str, text: str) -> None:
    assert format_money(Decimal(amount), currency, locale) == text


def test_format_money_matches_babel_everywhere() -> None:
    """The fast path must give Babel's text, byte for byte, in every locale."""
    rng = random.Random(3)
    currencies = ["EUR", "GBP", "JPY", "USD", "CHF", "INR", "BHD", "SEK"]
    locales = localedata.locale_identifiers()
    for locale in rng.sample(locales, 100) + ["de_CH", "en_IN", "ar_EG", "fa_IR"]:
        for currency in currencies:
            formatter = money_formatter(currency, locale)
            for _ in range(3):
                digits = rng.randrange(1, 11)
                amount = Decimal(rng.randrange(10**digits)).scaleb(
                    -get_currency_precision(currency)
                )
                expected = format_currency(amount, currency, locale=locale)
                assert format_money(amount, currency, locale) == expected, (locale, currency)
                assert formatter(amount) == expected, (locale, currency)


def test_format_money_rounds_like_babel_off_the_fast_path() -> None:
    # More decimals than the currency has never reach format_money from the catalogue,
    # but if they do, Babel's own rounding applies.
    assert format_money(Decimal("49.005"), "GBP", "en_GB") == format_currency(
        Decimal("49.005"), "GBP", locale="en_GB"
    )


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("39.00", None, Decimal("39.00")),
        (" 39.5 ", "GBP", Decimal("39.50")),
        ("39", "GBP", Decimal("39.00")),
        (39, "GBP", Decimal("39.00")),
        (Decimal("39.9"), "EUR", Decimal("39.90")),
        ("39.0000", "GBP", Decimal("39.00")),  # ERP padding is fine
        ("4900", "JPY", Decimal("4900")),
        ("4900.00", "JPY", Decimal("4900")),
        ("1.234", "BHD", Decimal("1.234")),
        ("0", "GBP", Decimal("0.00")),
    ],
)
def test_parse_amount_accepts(
    value: str | int | Decimal, currency: str | None, expected: Decimal
) -> None:
    parsed = parse_amount(value, currency)
    assert parsed == expected
    assert str(parsed) == str(expected)


@pytest.mark.parametrize(
    ("value", "currency", "fragment"),
    [
        (39.5, None, "is a float"),
        (True, None, "bool"),
        ("NaN", None, "not a plain decimal"),
        ("inf", None, "not a plain decimal"),
        (Decimal("NaN"), None, "not a finite number"),
        (Decimal("Infinity"), None, "not a finite number"),
        ("-1", None, "not a plain decimal"),
        (-1, None, "negative"),
        (Decimal("-0.01"), None, "negative"),
        ("1e3", None, "not a plain decimal"),
        ("1,000.00", None, "not a plain decimal"),
        ("", None, "not a plain decimal"),
        ("39.005", "GBP", "more decimals than GBP allows (2)"),
        ("49.5", "JPY", "more decimals than JPY allows (0)"),
        ("1234567890123", None, "more than 12 integer digits"),
        (None, None, "NoneType"),
    ],
)
def test_parse_amount_rejects(value: object, currency: str | None, fragment: str) -> None:
    with pytest.raises(HangTagError) as info:
        parse_amount(value, currency)  # type: ignore[arg-type]
    assert info.value.code == "invalid_price"
    assert fragment in str(info.value)


def test_currency_and_locale_validation() -> None:
    assert validate_currency("gbp") == "GBP"
    for bad in ("GBX", "", "pounds"):
        with pytest.raises(HangTagError) as info:
            validate_currency(bad)
        assert info.value.code == "invalid_currency"
    assert locale_name("de-AT") == "de_AT"
    with pytest.raises(HangTagError) as info2:
        format_money(Decimal(1), "EUR", "xx_YY")
    assert info2.value.code == "invalid_locale"
    with pytest.raises(HangTagError) as info3:
        format_money(Decimal(1), "XYZ", "en_GB")
    assert info3.value.code == "invalid_currency"
