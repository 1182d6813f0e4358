"""Amounts as Decimal (never float) and their display in a locale, through Babel.

``parse_amount`` is the one gate every price passes: plain non-negative decimals only,
with no more significant decimals than the currency has. ``format_money`` is called
once per price on every tag of a batch (tens of thousands of times), so the Babel
``Locale`` is cached and the text is built from parts taken from Babel once per locale
and currency (checked against Babel before use; Babel itself formats anything else).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberPattern,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    list_currencies,
)

from posbridge.hangtags.errors import (
    INVALID_CURRENCY,
    INVALID_LOCALE,
    INVALID_PRICE,
    HangTagError,
)

__all__ = [
    "MAX_INTEGER_DIGITS",
    "currency_exponent",
    "format_money",
    "get_locale",
    "locale_name",
    "money_formatter",
    "parse_amount",
    "validate_currency",
]

#: Prices above 10**12 are a unit mix-up (cents as units, a GTIN in the price column).
MAX_INTEGER_DIGITS = 12

# Exponents ("1e3"), signs, spaces inside and thousands separators are refused: a price
# column holding any of those is more likely wrong than meant.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(code: str) -> str:
    """Return the ISO 4217 ``code`` upper-cased, or raise ``invalid_currency``."""
    if not isinstance(code, str) or code.upper() not in _currencies():
        raise HangTagError(INVALID_CURRENCY, f"currency {code!r} is not an ISO 4217 code")
    return code.upper()


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> Decimal:
    """The smallest unit of ``currency`` as a Decimal exponent: ``0.01`` for GBP, ``1`` for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(validate_currency(currency)))


def parse_amount(value: str | int | Decimal, currency: str | None = None) -> Decimal:
    """Parse a price into a Decimal; raise ``invalid_price`` for anything doubtful.

    Accepts a plain decimal string (``"39"``, ``"39.00"``, surrounding spaces allowed),
    an ``int`` or a finite ``Decimal``. Floats (binary fractions), booleans, NaN,
    infinities, negatives and values of more than :data:`MAX_INTEGER_DIGITS` integer
    digits are refused. With ``currency``, the amount may not have more *significant*
    decimals than the currency allows (``"39.005"`` GBP is refused, ``"39.0000"`` is
    fine, as ERP exports often pad) and is returned quantized to it (``Decimal("39.00")``).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        kind = "a float" if isinstance(value, float) else type(value).__name__
        raise HangTagError(
            INVALID_PRICE,
            f'price {value!r} is {kind}; send a decimal string like "39.00"',
        )
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise HangTagError(
                INVALID_PRICE,
                f'price {value!r} is not a plain decimal number like "39.00"',
            )
        amount = Decimal(text)
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        amount = value
    if not amount.is_finite():
        raise HangTagError(INVALID_PRICE, f"price {value!r} is not a finite number")
    if amount < 0:
        raise HangTagError(INVALID_PRICE, f"price {value!r} is negative")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise HangTagError(
            INVALID_PRICE, f"price {value!r} has more than {MAX_INTEGER_DIGITS} integer digits"
        )
    if currency is None:
        return amount
    exponent = currency_exponent(currency)
    try:
        quantized = amount.quantize(exponent)
    except InvalidOperation as exc:  # pragma: no cover - ruled out by the digit cap
        raise HangTagError(INVALID_PRICE, f"price {value!r} cannot be represented") from exc
    if quantized != amount:
        places = -exponent.as_tuple().exponent  # type: ignore[operator]
        raise HangTagError(
            INVALID_PRICE,
            f"price {value!r} has more decimals than {currency.upper()} allows ({places})",
        )
    return quantized


def locale_name(name: str) -> str:
    """Canonical Babel name of a locale given as ``de-AT`` or ``de_AT`` (``"de_AT"``)."""
    return str(get_locale(name))


@lru_cache(maxsize=128)
def get_locale(name: str) -> Locale:
    """The Babel ``Locale`` for ``de-AT`` / ``de_AT`` (cached); ``invalid_locale`` if unknown."""
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, AttributeError) as exc:
        raise HangTagError(INVALID_LOCALE, f"locale {name!r} is unknown") from exc


_PROBES = tuple(
    Decimal(text)
    for text in ("0", "1", "7.5", "12.34", "999.99", "1234.5", "12345.67", "123456", "1234567.89")
)


class _FastFormat:
    """Babel's currency text for one locale and currency, without Babel's per-call work.

    Babel's ``NumberPattern.apply`` costs ~20 us a call (plural operands, currency
    names, symbol lookups); a tag batch calls it tens of thousands of times. For
    non-negative amounts already at the currency's precision the text is always
    ``prefix + grouped digits + suffix``, so those parts are taken from Babel once and
    the result is checked against Babel on probe amounts before it is trusted.
    """

    __slots__ = ("_decimal", "_exponent", "_group", "_primary", "_secondary", "prefix", "suffix")

    def __init__(self, babel_locale: Locale, pattern: NumberPattern, currency: str) -> None:
        self._exponent = currency_exponent(currency)
        self._decimal = get_decimal_symbol(babel_locale)
        self._group = get_group_symbol(babel_locale)
        self._primary, self._secondary = pattern.grouping
        one = _babel(Decimal(1), babel_locale, pattern, currency)
        digits = self._number(Decimal(1))
        at = one.find(digits)
        if at < 0:
            raise ValueError(f"{digits!r} not found in {one!r}")
        self.prefix, self.suffix = one[:at], one[at + len(digits) :]

    def _number(self, amount: Decimal) -> str:
        whole, _, fraction = f"{amount.quantize(self._exponent):f}".partition(".")
        if len(whole) > self._primary:
            # Same walk as Babel's NumberPattern._format_int (Indian 2-digit groups too).
            size, groups = self._primary, ""
            while len(whole) > size:
                groups = self._group + whole[-size:] + groups
                whole = whole[:-size]
                size = self._secondary
            whole += groups
        return whole + self._decimal + fraction if fraction else whole

    def __call__(self, amount: Decimal) -> str:
        return self.prefix + self._number(amount) + self.suffix


def _babel(amount: Decimal, babel_locale: Locale, pattern: NumberPattern, currency: str) -> str:
    return str(pattern.apply(amount, babel_locale, currency=currency, currency_digits=True))


@lru_cache(maxsize=512)
def _formatter(currency: str, locale: str) -> _FastFormat | None:
    """The fast formatter for this pair, or None when it does not match Babel exactly."""
    babel_locale = get_locale(locale)
    pattern = babel_locale.currency_formats["standard"]
    try:
        fast = _FastFormat(babel_locale, pattern, currency)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    for probe in _PROBES:
        if fast(probe) != _babel(probe, babel_locale, pattern, currency):
            return None
    return fast


def _format(amount: Decimal, currency: str, locale: str) -> str:
    fast = _formatter(currency, locale)
    if fast is not None and amount >= 0 and amount == amount.quantize(fast._exponent):
        return fast(amount)
    babel_locale = get_locale(locale)
    return _babel(amount, babel_locale, babel_locale.currency_formats["standard"], currency)


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """``amount`` in ``currency`` as shown in ``locale``, exactly as Babel's ``format_currency``.

    For example ``€\\xa049,00`` (de_AT, EUR), ``£49.00`` (en_GB, GBP), ``￥4,900`` (ja_JP,
    JPY). Babel uses no-break spaces (U+00A0, U+202F) so the symbol never wraps away
    from the number. Raises ``invalid_currency`` / ``invalid_locale``.
    """
    return _format(amount, validate_currency(currency), locale)


def money_formatter(currency: str, locale: str) -> Callable[[Decimal], str]:
    """``format_money`` bound to one currency and locale, for formatting in a loop."""
    code = validate_currency(currency)
    fast = _formatter(code, locale)
    if fast is None:
        return lambda amount: _format(amount, code, locale)
    exponent = fast._exponent

    def format_amount(amount: Decimal) -> str:
        if amount >= 0 and amount == amount.quantize(exponent):
            return fast(amount)
        return _format(amount, code, locale)

    return format_amount
