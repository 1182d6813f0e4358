"""GTIN validation and completion (GS1 mod-10 check digit) and the barcode to print it with.

Accepted input, after removing spaces:

* 8, 12, 13 or 14 digits with a correct check digit: returned unchanged
  (GTIN-8 / EAN-8, GTIN-12 / UPC-A, GTIN-13 / EAN-13, GTIN-14).
* 7 digits: an EAN-8 without its check digit; the check digit is appended.
* 12 digits that are *not* a valid UPC-A: taken as an EAN-13 body without its check
  digit, and completed to 13 digits. Retailers' systems often export EAN-13s with the
  check digit dropped, and a 12-digit string passes as a UPC-A only one time in ten
  by chance. The price of the rule: a UPC-A with a typo in it is not rejected but
  becomes a 13-digit number that is almost certainly no product's, so its tag scans
  as "not found" at the till instead of failing here. Callers that know they hold
  UPC-As should check the length of what comes back.

Anything else raises :class:`~posbridge.hangtags.errors.HangTagError` ``invalid_gtin``
with a message naming the value and what is wrong with it.
"""

from __future__ import annotations

from typing import Literal

from posbridge.hangtags.errors import INVALID_GTIN, HangTagError

__all__ = ["Symbology", "check_digit", "gtin_symbology", "normalize_gtin"]

Symbology = Literal["EAN13", "UPCA", "EAN8", "CODE128"]

_SYMBOLOGY: dict[int, Symbology] = {8: "EAN8", 12: "UPCA", 13: "EAN13", 14: "CODE128"}
_DIGITS = frozenset("0123456789")


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (all digits of the GTIN but the last).

    Weights alternate 3, 1, 3, ... starting from the rightmost digit of the body.
    """
    reverse = body[::-1]
    total = 3 * sum(map(int, reverse[0::2])) + sum(map(int, reverse[1::2]))
    return -total % 10


def _has_valid_check_digit(gtin: str) -> bool:
    return check_digit(gtin[:-1]) == ord(gtin[-1]) - 48


def normalize_gtin(value: str) -> str:
    """Validate ``value`` as a GTIN and return its digits, completing a missing check digit.

    Raises ``HangTagError("invalid_gtin", ...)``; see the module docstring for the rules.
    """
    if not isinstance(value, str):
        raise HangTagError(INVALID_GTIN, f"GTIN must be a string of digits, not {value!r}")
    digits = "".join(value.split())
    if not digits:
        raise HangTagError(INVALID_GTIN, "GTIN is empty")
    if not _DIGITS.issuperset(digits):
        raise HangTagError(INVALID_GTIN, f"GTIN {value!r} must contain digits only")
    length = len(digits)
    if length == 7:
        return digits + str(check_digit(digits))
    if length == 12:
        if _has_valid_check_digit(digits):
            return digits
        return digits + str(check_digit(digits))
    if length in (8, 13, 14):
        expected = check_digit(digits[:-1])
        if expected != ord(digits[-1]) - 48:
            raise HangTagError(
                INVALID_GTIN,
                f"GTIN {digits!r}: check digit should be {expected}, not {digits[-1]}",
            )
        return digits
    raise HangTagError(
        INVALID_GTIN,
        f"GTIN {digits!r} has {length} digits; expected 8, 12, 13 or 14 "
        "(or 7 / 12 without the check digit)",
    )


def gtin_symbology(gtin: str) -> Symbology:
    """The barcode symbology that carries a normalised GTIN on a tag.

    GTIN-14 has no EAN/UPC symbol; GS1 puts it in ITF-14 or GS1-128, and Code 128 prints
    on every label printer, so it is ``"CODE128"``.
    """
    symbology = _SYMBOLOGY.get(len(gtin))
    if symbology is None or not _DIGITS.issuperset(gtin) or not _has_valid_check_digit(gtin):
        raise HangTagError(INVALID_GTIN, f"{gtin!r} is not a normalised GTIN")
    return symbology
