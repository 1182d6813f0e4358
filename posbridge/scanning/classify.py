"""Classify one scan: product, ID document, contact, customer identifier or unknown.

Order, first hit wins:

1. **Products** (:mod:`~posbridge.scanning.gs1`): GTINs on EAN/UPC/ITF-14/DataBar,
   GS1 element strings, Digital Link URLs. A product code is never a customer, whatever
   the rules say. The one exception is a restricted circulation number (EAN-13 ``2…``,
   ``02…``, ``04…``): stores number both in-store items and loyalty cards that way, so
   the customer rules see it first and it is a product only if none matches.
2. **ID documents** (:mod:`~posbridge.scanning.aamva`): ``search_value`` is the document
   number (DAQ); no auto-populate (the app shows names, birth date and address from
   ``fields`` and asks before it stores anything).
3. **Contacts** (:mod:`~posbridge.scanning.contacts`): ``search_value`` is the first
   email, else the first phone number in E.164; every email and phone goes through the
   auto-populate rules (a field already filled is not overwritten).
4. **Customer identifier rules** in order; the match's search value also goes through
   the auto-populate rules.
5. **Unknown**; the auto-populate rules still run on the data (an email typed into a
   plain QR code can fill ``email``), but there is no search value.

An AIM symbology identifier at the start (``]C1``, ``]Q1`` ... sent by scanners set up
that way) names the symbology when the driver could not, and is removed before rules
see the data (the platform's regexes are written for the bare data). A scan whose
symbology is unknown is matched against every rule, whatever its code type.

Speed: the checks before the rules are prefix tests, so a loyalty-card scan costs a few
microseconds plus its regexes.
"""

from __future__ import annotations

from datetime import date

from drivers.scanner.symbology import CODE_TYPE_BITS, Symbology, code_type
from posbridge.scanning.aamva import looks_like_aamva, parse_aamva
from posbridge.scanning.contacts import parse_contact
from posbridge.scanning.gs1 import parse_product
from posbridge.scanning.result import Classification, ScanKind
from posbridge.scanning.rules import CustomerProfileConfig

__all__ = ["classify", "split_aim"]

_ALL_CODE_TYPES = 0
for _bit in CODE_TYPE_BITS.values():
    _ALL_CODE_TYPES |= _bit

# AIM symbology identifier (ISO/IEC 15424) -> symbology; by "]Xm", else by "]X".
_AIM_EXACT = {
    "E0": Symbology.EAN13,
    "E4": Symbology.EAN8,
    "C1": Symbology.GS1_128,
    "e0": Symbology.DATABAR,
}
_AIM_FAMILY = {
    "E": Symbology.EAN13,
    "C": Symbology.CODE128,
    "Q": Symbology.QR,
    "d": Symbology.DATAMATRIX,
    "L": Symbology.PDF417,
    "A": Symbology.CODE39,
    "G": Symbology.CODE93,
    "I": Symbology.ITF,
    "e": Symbology.DATABAR,
    "z": Symbology.AZTEC,
    "F": Symbology.CODABAR,
}
_GS1_AIM = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})


def split_aim(data: str) -> tuple[str | None, Symbology | None, str]:
    """``(aim, symbology, payload)``: a leading AIM identifier split off ``data``."""
    if len(data) >= 3 and data[0] == "]" and data[1] in _AIM_FAMILY and data[2].isalnum():
        aim = data[:3]
        symbology = _AIM_EXACT.get(data[1:3]) or _AIM_FAMILY[data[1]]
        return aim, symbology, data[3:]
    return None, None, data


def classify(
    data: str,
    symbology: Symbology,
    config: CustomerProfileConfig,
    *,
    default_region: str = "AT",
    today: date | None = None,
    rcn_region: str | None = None,
) -> Classification:
    """Classify one scan; never raises for any ``data``.

    ``default_region`` reads national phone numbers; ``today`` is for age and expiry
    (defaults to today); ``rcn_region`` (a biip region such as ``"de"``, ``"se"``) reads
    weight and price from variable-measure EAN-13s.
    """
    aim, aim_symbology, payload = split_aim(data)
    if symbology is Symbology.UNKNOWN and aim_symbology is not None:
        symbology = aim_symbology

    product = parse_product(data if aim in _GS1_AIM else payload, symbology, rcn_region=rcn_region)
    if product is not None and not product.restricted:
        return Classification(kind=ScanKind.PRODUCT, fields=product.to_fields())

    if looks_like_aamva(payload):
        document = parse_aamva(payload, today=today)
        return Classification(
            kind=ScanKind.ID_DOCUMENT,
            search_value=document.document_number,
            fields=document.to_fields(),
        )

    contact = parse_contact(payload, default_region=default_region)
    if contact is not None:
        auto: dict[str, str] = {}
        for value in (*contact.emails, *contact.phones):
            for path, filled in config.auto_populate(value).items():
                auto.setdefault(path, filled)
        return Classification(
            kind=ScanKind.CONTACT,
            search_value=contact.search_value,
            auto_populate=auto,
            fields=contact.to_fields(),
        )

    mask = _ALL_CODE_TYPES if symbology is Symbology.UNKNOWN else code_type(symbology)
    match = config.match_identifier(payload, mask)
    if match is not None:
        index, value = match
        return Classification(
            kind=ScanKind.CUSTOMER_IDENTIFIER,
            search_value=value,
            auto_populate=config.auto_populate(value),
            rule_index=index,
        )
    if product is not None:
        return Classification(kind=ScanKind.PRODUCT, fields=product.to_fields())
    return Classification(kind=ScanKind.UNKNOWN, auto_populate=config.auto_populate(payload))
