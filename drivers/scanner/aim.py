"""AIM symbology identifiers: the ``]Cm`` a scanner puts in front of the data it decoded.

An identifier is three characters: the flag ``]``, a code character naming the
symbology family and a modifier character whose meaning depends on the family
(ISO/IEC 15424 "Symbology identifiers", Table 1; the same table is printed in scanner
manuals, e.g. NCR's "AIM Code Identifiers" page,
https://onlinehelp.ncr.com/Retail/Scanners/7895/HTML/TopicsScanner/ProgrammingReference/AIMCodeIdentifiers.htm,
and implemented by jodal/biip ``src/biip/symbology.py``). The families we map:

    ]A  Code 39             ]C  Code 128 (]C1 = GS1-128: FNC1 in first position)
    ]E  EAN/UPC: ]E0 EAN-13 / UPC-A / UPC-E, ]E4 EAN-8, ]E1 2-digit add-on,
        ]E2 5-digit add-on, ]E3 EAN-13 with its add-on in one packet
    ]F  Codabar             ]G  Code 93             ]I  Interleaved 2 of 5
    ]L  PDF417 / MicroPDF417                        ]Q  QR Code (]Q3/]Q5 GS1 QR)
    ]d  Data Matrix (]d2 = GS1 DataMatrix)          ]e  GS1 DataBar, all kinds
    ]z  Aztec               ]X  other symbology (no identifier of its own)

Other ISO 15424 code characters (Telepen, MSI, MaxiCode, ...) are recognised and
stripped so their data is clean, and map to ``Symbology.UNKNOWN``. ``]Y`` (system
expansion, variable length) is not supported and is left in the data.
"""

from __future__ import annotations

from drivers.scanner.symbology import Symbology

__all__ = ["AIM_CODE_CHARACTERS", "aim_for", "parse_aim", "symbology_from_aim"]

_CODE_CHARACTERS = "ABCDEFGHIKLMNOPQRSTUXZcdeopsz"
AIM_CODE_CHARACTERS = frozenset(_CODE_CHARACTERS)
"""ISO/IEC 15424 code characters with a one-character modifier (``Y`` is excluded)."""

# Modifiers are one digit or letter (Aztec goes up to ]zC); anything else is not an id.
_MODIFIERS = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_CODE_BYTES = frozenset(_CODE_CHARACTERS.encode("ascii"))
_FLAG = ord("]")

# Family -> symbology, for families whose modifier does not change the answer.
_FAMILY: dict[str, Symbology] = {
    "A": Symbology.CODE39,
    "F": Symbology.CODABAR,
    "G": Symbology.CODE93,
    "I": Symbology.ITF,
    "L": Symbology.PDF417,
    "Q": Symbology.QR,
    "d": Symbology.DATAMATRIX,
    "z": Symbology.AZTEC,
}

# Symbology -> the identifier the emulator sends (a typical scanner's choice).
_AIM_FOR: dict[Symbology, str] = {
    Symbology.QR: "]Q1",
    Symbology.DATABAR: "]e0",
    Symbology.DATABAR_EXPANDED: "]e0",
    Symbology.EAN8: "]E4",
    Symbology.EAN13: "]E0",
    Symbology.UPCA: "]E0",
    Symbology.UPCE: "]E0",
    Symbology.DATAMATRIX: "]d1",
    Symbology.CODE39: "]A0",
    Symbology.CODE93: "]G0",
    Symbology.CODE128: "]C0",
    Symbology.GS1_128: "]C1",
    Symbology.PDF417: "]L2",
    Symbology.ITF: "]I0",
    Symbology.AZTEC: "]z0",
    Symbology.CODABAR: "]F0",
    Symbology.UNKNOWN: "]X0",
}


def parse_aim(data: bytes) -> tuple[str | None, bytes]:
    """Split a leading AIM identifier off ``data``: ``parse_aim(b"]E04006381333931")`` is
    ``("]E0", b"4006381333931")``. Without a well-formed identifier: ``(None, data)``."""
    if len(data) >= 3 and data[0] == _FLAG and data[1] in _CODE_BYTES and data[2] in _MODIFIERS:
        return data[:3].decode("ascii"), data[3:]
    return None, data


def _leading_digits(data: str) -> int:
    count = 0
    for char in data:
        if not "0" <= char <= "9":
            break
        count += 1
    return count


def symbology_from_aim(aim: str, data: str = "") -> Symbology:
    """The symbology an AIM identifier names; ``data`` (the payload after it) refines
    the families that share one identifier:

    * ``]E0`` carries EAN-13, UPC-A and UPC-E. Scanners send UPC-A either as 12 digits or,
      as ISO 15424 asks, widened to 13 with a leading ``0``. Both are reported as UPCA: an
      EAN-13 with a leading zero *is* the UPC-A symbol (same bars), and retail platforms
      give UPC-A its own code type. 6 to 8 digits under ``]E0`` are UPC-E. Without data
      ``]E0`` means EAN13. ``]E1``/``]E2``/``]E3`` (add-ons) count as EAN13 (the
      family of the symbol they belong to).
    * ``]e0`` is used by every GS1 DataBar. DataBar Omnidirectional/Limited/Stacked carry
      exactly ``01`` + GTIN-14; anything else is DataBar Expanded.
    * ``]C1`` is GS1-128; every other ``]C`` modifier is plain Code 128.

    Unknown or unmapped identifiers give UNKNOWN.
    """
    if len(aim) != 3 or aim[0] != "]":
        return Symbology.UNKNOWN
    family, modifier = aim[1], aim[2]
    symbology = _FAMILY.get(family)
    if symbology is not None:
        return symbology
    if family == "E":
        if modifier == "4":
            return Symbology.EAN8
        if modifier != "0":
            return Symbology.EAN13 if modifier in "123" else Symbology.UNKNOWN
        digits = _leading_digits(data)
        if digits == 12 or (digits == 13 and data[0] == "0"):
            return Symbology.UPCA
        if 6 <= digits <= 8:
            return Symbology.UPCE
        return Symbology.EAN13
    if family == "C":
        return Symbology.GS1_128 if modifier == "1" else Symbology.CODE128
    if family == "e":
        if len(data) == 16 and data.startswith("01") and data.isascii() and data.isdigit():
            return Symbology.DATABAR
        return Symbology.DATABAR_EXPANDED if data else Symbology.DATABAR
    return Symbology.UNKNOWN


def aim_for(symbology: Symbology) -> str:
    """The AIM identifier a scanner sends for ``symbology`` (inverse of the table above;
    where a family has several modifiers, the plain one: ``]Q1`` model-2 QR, ``]d1``
    ECC 200 Data Matrix, ``]L2`` PDF417 as most scanners report it, ``]X0`` unknown)."""
    return _AIM_FOR[symbology]
