"""Products: GTINs on EAN/UPC/ITF-14/DataBar, GS1 element strings and GS1 Digital Link URLs.

:func:`parse_product` answers "is this scan a product?" from the data *and* the
symbology, because the digits alone are ambiguous ("4006381333931" is an EAN-13, but read
as a GS1 element string it is AI 400, an order number). What counts:

* EAN-8, EAN-13, UPC-A, UPC-E (and 14-digit ITF-14 or DataBar) with a valid check digit;
  UPC-E is expanded to its UPC-A GTIN-12.
* GS1 element strings: GS1-128, DataBar, or any scan carrying a GS1 AIM identifier
  (``]C1`` ``]e0`` ``]d2`` ``]Q3``) or starting with FNC1 (sent as GS ``\\x1d``).
* GS1 Digital Link URLs (``https://id.gs1.org/01/09506000134352/10/ABC``) in QR,
  DataMatrix or a scan of unknown symbology.
* With an unknown symbology (a keyboard wedge without AIM ids), 8/12/13/14 digits with a
  valid check digit: a product code must never become a customer by accident.

Restricted circulation numbers (EAN-13 prefixes 02, 04, 20-29; UPC-A 2 and 4; EAN-8 0
and 2) are numbers a store or region assigns itself: in-store products, but also loyalty
cards. They come back with ``restricted=True`` so the classifier lets customer rules
look at them first; variable-measure ones (weight or price inside, when ``rcn_region``
says how to read them) are always products.

Element strings and Digital Links are parsed with ``biip``; the AIs come back in
``fields`` as ``{"01": "09506000134352", "10": "ABC"}`` (repeated AIs: the first wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import biip
from biip.rcn import Rcn
from biip.upc import Upc

from drivers.scanner.symbology import Symbology
from posbridge.hangtags.gtin import check_digit

__all__ = ["Product", "is_valid_gtin", "parse_product"]

_GTIN_LENGTHS = frozenset({8, 12, 13, 14})
_GS1_AIM = ("]C1", "]e0", "]d2", "]Q3", "]J1")
_EAN_UPC = frozenset({Symbology.EAN8, Symbology.EAN13, Symbology.UPCA, Symbology.UPCE})
_GS1_SYMBOLOGIES = frozenset({Symbology.GS1_128, Symbology.DATABAR, Symbology.DATABAR_EXPANDED})
_LINK_SYMBOLOGIES = frozenset({Symbology.QR, Symbology.DATAMATRIX, Symbology.UNKNOWN})
_AIM_FOR: dict[Symbology, str] = {
    Symbology.EAN8: "]E4",
    Symbology.EAN13: "]E0",
    Symbology.UPCA: "]E0",
    Symbology.UPCE: "]E0",
    Symbology.GS1_128: "]C1",
    Symbology.DATABAR: "]e0",
    Symbology.DATABAR_EXPANDED: "]e0",
}


@dataclass(frozen=True, slots=True)
class Product:
    """A scan that names a trade item (or another GS1 key: SSCC, GLN ...).

    ``gtin`` is the GTIN as encoded (8, 12, 13 or 14 digits; UPC-E expanded) or None
    for GS1 data without AI 01; ``fields`` the GS1 AIs and their values, plus
    ``weight``/``price`` for variable-measure items; ``source`` one of ``"gtin"``,
    ``"element_string"``, ``"digital_link"``; ``restricted`` for restricted circulation
    numbers that are not variable measure (see the module docstring).
    """

    gtin: str | None
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    restricted: bool = False

    def to_fields(self) -> dict[str, Any]:
        """JSON-able details for a classification."""
        return {
            "gtin": self.gtin,
            "source": self.source,
            "restricted": self.restricted,
            "ais": dict(self.fields),
        }


def is_valid_gtin(digits: str) -> bool:
    """True for 8, 12, 13 or 14 ASCII digits with a correct GS1 check digit."""
    return (
        len(digits) in _GTIN_LENGTHS
        and digits.isascii()
        and digits.isdigit()
        and check_digit(digits[:-1]) == ord(digits[-1]) - 48
    )


def _is_restricted(gtin: str) -> bool:
    if len(gtin) == 13:
        return gtin[:2] in ("02", "04") or gtin[0] == "2"
    if len(gtin) == 12:
        return gtin[0] in "24"
    if len(gtin) == 8:
        return gtin[0] in "02"
    return False


def parse_product(
    data: str, symbology: Symbology, *, rcn_region: str | None = None
) -> Product | None:
    """The product ``data`` names, or None when it is no GTIN or GS1 data. Never raises."""
    if symbology in _EAN_UPC:
        return _ean_upc(data, symbology, rcn_region)
    if symbology in (Symbology.ITF, Symbology.DATABAR) and is_valid_gtin(data) and len(data) == 14:
        return Product(gtin=data, source="gtin")
    if symbology is Symbology.UNKNOWN and is_valid_gtin(data):
        return _ean_upc(data, Symbology.EAN13 if len(data) == 13 else symbology, rcn_region)
    if data.startswith(_GS1_AIM):
        return _element_string(data, rcn_region)
    if data.startswith("\x1d"):  # FNC1 in first position, sent as GS
        return _element_string("]C1" + data[1:], rcn_region)
    if symbology in _GS1_SYMBOLOGIES and data[:2].isdigit():
        return _element_string(_AIM_FOR[symbology] + data, rcn_region)
    if symbology in _LINK_SYMBOLOGIES and data[:4].lower() == "http":
        return _digital_link(data)
    return None


def _ean_upc(data: str, symbology: Symbology, rcn_region: str | None) -> Product | None:
    digits = data
    if symbology is Symbology.UPCE:
        digits = _expand_upce(data) or ""
    if not is_valid_gtin(digits):
        return None
    if not _is_restricted(digits):
        return Product(gtin=digits, source="gtin")
    measure: dict[str, Any] = {}
    if rcn_region is not None:
        try:
            result = biip.parse(digits, config=biip.ParseConfig(rcn_region=rcn_region))
        except (biip.ParseError, ValueError):
            result = None
        gtin = result.gtin if result is not None else None
        if isinstance(gtin, Rcn):
            if gtin.weight is not None:
                measure["weight"] = str(gtin.weight)
            if gtin.price is not None:
                measure["price"] = str(gtin.price)
            if gtin.count is not None:
                measure["count"] = gtin.count
    return Product(gtin=digits, source="gtin", fields=measure, restricted=not measure)


def _expand_upce(data: str) -> str | None:
    if not (data.isascii() and data.isdigit() and len(data) in (6, 7, 8)):
        return None
    try:
        upc = Upc.parse(data)
        return upc.as_upc_a()
    except (biip.ParseError, ValueError):
        return None


def _ais(element_strings: Any) -> dict[str, Any]:
    ais: dict[str, Any] = {}
    for element in element_strings:
        ais.setdefault(element.ai.ai, element.value)
    return ais


def _element_string(data: str, rcn_region: str | None) -> Product | None:
    try:
        result = biip.parse(data, config=biip.ParseConfig(rcn_region=rcn_region))
    except (biip.ParseError, ValueError):
        return None
    if result.gs1_message is not None:
        ais = _ais(result.gs1_message.element_strings)
        return Product(gtin=ais.get("01"), source="element_string", fields=ais)
    if result.gs1_digital_link_uri is not None:
        ais = _ais(result.gs1_digital_link_uri.element_strings)
        return Product(gtin=ais.get("01"), source="digital_link", fields=ais)
    if result.gtin is not None:
        return Product(gtin=result.gtin.value, source="gtin")
    return None


def _digital_link(data: str) -> Product | None:
    try:
        result = biip.parse(data)
    except (biip.ParseError, ValueError):
        return None
    if result.gs1_digital_link_uri is None:
        return None
    ais = _ais(result.gs1_digital_link_uri.element_strings)
    return Product(gtin=ais.get("01"), source="digital_link", fields=ais)
