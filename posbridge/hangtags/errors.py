"""The one error hang-tag code raises: :class:`HangTagError`, with a stable ``code``.

Codes used by the data side (``catalog``, ``pricing``, ``gtin``, ``money``)::

    unknown_pricebook      a configured pricebook is neither imported nor given inline
    unknown_product        a product id is neither imported nor given inline
    missing_price          a product has no price in a pricebook (MissingPrice.REJECT)
    invalid_gtin           not a GTIN-8/12/13/14 (length, characters or check digit)
    invalid_price          an amount that is not a plain non-negative decimal for its currency
    invalid_currency       not an ISO 4217 code Babel knows
    invalid_locale         a locale name Babel does not know
    invalid_product        inline product data of the wrong shape
    invalid_item           an item's copies (or another item field) out of range
    invalid_import         an import row or line is bad; the message names line and column
    invalid_pricebook_ref  a pricebook reference that is not ``catalog.pricebook``

Other hang-tag modules (templates) add their own codes to the same class. The API maps
codes in :data:`NOT_FOUND_CODES` to 404 and every other code to 422; the mapping to HTTP
lives only in the API.
"""

from __future__ import annotations

__all__ = [
    "INVALID_CURRENCY",
    "INVALID_GTIN",
    "INVALID_IMPORT",
    "INVALID_ITEM",
    "INVALID_LOCALE",
    "INVALID_PRICE",
    "INVALID_PRICEBOOK_REF",
    "INVALID_PRODUCT",
    "MISSING_PRICE",
    "NOT_FOUND_CODES",
    "UNKNOWN_PRICEBOOK",
    "UNKNOWN_PRODUCT",
    "HangTagError",
]

UNKNOWN_PRICEBOOK = "unknown_pricebook"
UNKNOWN_PRODUCT = "unknown_product"
MISSING_PRICE = "missing_price"
INVALID_GTIN = "invalid_gtin"
INVALID_PRICE = "invalid_price"
INVALID_CURRENCY = "invalid_currency"
INVALID_LOCALE = "invalid_locale"
INVALID_PRODUCT = "invalid_product"
INVALID_ITEM = "invalid_item"
INVALID_IMPORT = "invalid_import"
INVALID_PRICEBOOK_REF = "invalid_pricebook_ref"

#: Codes that mean "the thing you named does not exist" rather than "your input is bad".
NOT_FOUND_CODES: frozenset[str] = frozenset({UNKNOWN_PRICEBOOK, UNKNOWN_PRODUCT})


class HangTagError(Exception):
    """A hang-tag request, import or template failed; ``code`` is stable, ``str()`` explains.

    ``field`` optionally locates the problem in the request, as a dotted/indexed path such
    as ``items[3].prices.outlet``; ``None`` when the error is not about one field.
    """

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def not_found(self) -> bool:
        """True when the error names something unknown (the API answers 404)."""
        return self.code in NOT_FOUND_CODES

    def __repr__(self) -> str:
        return f"HangTagError({self.code!r}, {self.message!r}, field={self.field!r})"
