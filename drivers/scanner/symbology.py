"""Symbologies a scanner reports, and the code-type bits retail platforms configure.

The bit values are the ones the retail platform's ``customer_profile_scanner_identifiers``
use (``scanner_code_type``): QR 1, Databar 2, Databar Expanded 4, EAN8 8, EAN13 16,
UPCA 32, UPCE 64, DataMatrix 128, Code39 256, Code93 512, Code128 1024, PDF417 2048,
Interleaved 2 of 5 4096. A symbology without a bit (Aztec, Codabar, ...) has code type 0.
"""

from __future__ import annotations

import enum

__all__ = [
    "AAMVA_SIGNATURES",
    "CODE_TYPE_BITS",
    "QR_ONLY_PREFIXES",
    "Symbology",
    "code_type",
    "gs1_check_digit_ok",
    "infer_symbology",
    "is_aamva",
]


class Symbology(enum.StrEnum):
    QR = "qr"
    DATABAR = "databar"
    DATABAR_EXPANDED = "databar_expanded"
    EAN8 = "ean8"
    EAN13 = "ean13"
    UPCA = "upca"
    UPCE = "upce"
    DATAMATRIX = "datamatrix"
    CODE39 = "code39"
    CODE93 = "code93"
    CODE128 = "code128"
    GS1_128 = "gs1_128"  # Code 128 with FNC1 first (AIM ]C1)
    PDF417 = "pdf417"
    ITF = "itf"  # Interleaved 2 of 5
    AZTEC = "aztec"
    CODABAR = "codabar"
    UNKNOWN = "unknown"


CODE_TYPE_BITS: dict[Symbology, int] = {
    Symbology.QR: 1,
    Symbology.DATABAR: 2,
    Symbology.DATABAR_EXPANDED: 4,
    Symbology.EAN8: 8,
    Symbology.EAN13: 16,
    Symbology.UPCA: 32,
    Symbology.UPCE: 64,
    Symbology.DATAMATRIX: 128,
    Symbology.CODE39: 256,
    Symbology.CODE93: 512,
    Symbology.CODE128: 1024,
    Symbology.GS1_128: 1024,  # a Code 128 symbol as far as the platform's rules go
    Symbology.PDF417: 2048,
    Symbology.ITF: 4096,
}


def code_type(symbology: Symbology) -> int:
    """The platform's code-type bit for ``symbology`` (0 when it has none)."""
    return CODE_TYPE_BITS.get(symbology, 0)


# -- inference without an AIM identifier (added for the serial scanner) --------------------

AAMVA_SIGNATURES: tuple[str, ...] = ("@\n\x1e\rANSI ", "@\n\x1c\rANSI ")
"""How an AAMVA DL/ID document (PDF417 on a driver's licence) begins: compliance
indicator ``@``, LF, record separator RS (some older cards: file separator FS), CR,
file type ``ANSI ``."""

QR_ONLY_PREFIXES: tuple[str, ...] = (
    "https://",
    "http://",
    "mailto:",
    "MECARD:",
    "BEGIN:VCARD",
    "WIFI:",
    "SMSTO:",
    "MATMSG:",
    "BCD\n",  # EPC SEPA credit-transfer QR ("GiroCode"), defined for QR only
    "SPC\n",  # Swiss QR-bill, defined for QR only
)
"""Payload starts that, in a shop, come from a QR code. URLs could in theory sit in a
Code 128 or a DataMatrix, but phone-scannable links, vCards, Wi-Fi and payment codes are
QR by convention (and the payment ones by their specification). Compared without case:
upper-case URLs are common because they fit QR's compact alphanumeric mode."""

_QR_ONLY_PREFIXES_FOLDED = tuple(p.casefold() for p in QR_ONLY_PREFIXES)
_GTIN_BY_LENGTH = {8: Symbology.EAN8, 12: Symbology.UPCA, 13: Symbology.EAN13}


def gs1_check_digit_ok(digits: str) -> bool:
    """True when the last digit of ``digits`` is the GS1 mod-10 check digit of the rest
    (GTIN-8/12/13/14, SSCC, ...). False for anything that is not 2+ ASCII digits."""
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    # Weights 3,1,3,1,... from the digit next to the check digit, leftwards.
    for position, char in enumerate(reversed(digits[:-1])):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10 == int(digits[-1])


def is_aamva(data: str) -> bool:
    """True when ``data`` is certainly an AAMVA DL/ID document (see AAMVA_SIGNATURES)."""
    return data.startswith(AAMVA_SIGNATURES)


def infer_symbology(data: str) -> Symbology:
    """Guess the symbology of a scan that came without an AIM identifier.

    Only certain answers, otherwise ``UNKNOWN``:

    * 8, 12 or 13 digits with a valid GS1 check digit: EAN8, UPCA, EAN13. A 13-digit GTIN
      starting with ``0`` is reported as UPCA: an EAN-13 symbol with a leading zero is bar
      for bar the UPC-A symbol of the remaining 12 digits (the same rule as
      ``symbology_from_aim``). 14 digits stay UNKNOWN: ITF-14 and GS1-128 both carry them.
    * An AAMVA DL/ID header: PDF417 (the only symbology AAMVA uses).
    * A payload in QR_ONLY_PREFIXES: QR.
    """
    length = len(data)
    if length in _GTIN_BY_LENGTH and gs1_check_digit_ok(data):
        if length == 13 and data[0] == "0":
            return Symbology.UPCA
        return _GTIN_BY_LENGTH[length]
    if is_aamva(data):
        return Symbology.PDF417
    if data[:12].casefold().startswith(_QR_ONLY_PREFIXES_FOLDED):
        return Symbology.QR
    return Symbology.UNKNOWN
