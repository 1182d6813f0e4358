"""North American driver's licences and ID cards: the AAMVA DL/ID PDF417 payload.

Layout (AAMVA DL/ID Card Design Standard, annex D)::

    @ LF RS CR "ANSI " IIN(6) version(2) jurisdiction-version(2) entries(2)
    then per subfile: type(2) offset(4) length(4)        offsets count from the "@"
    then the subfiles: type ("DL", "ID", "Z?") + elements, each id(3) value LF, ending CR

Version 1 (DL/ID-2000) has no jurisdiction-version field and older documents say
``AAMVA`` instead of ``ANSI ``; both are read, and the header is taken whichever way
gives a readable subfile directory. The three separators are taken from the header as
sent (some issuers use ``\\x1c`` instead of RS); a subfile whose offset is wrong is looked
for after the directory.

Elements used: DAQ document number; names DCS/DAC/DAD (version 4 on), DCS + DCT given
names (versions 2-3), DAA ``LAST,FIRST,MIDDLE`` (version 1), with DAB/DAC/DAD as
fallbacks; DBB birth, DBA expiry, DBD issue; DBC sex (1 M, 2 F, 9 not specified);
DAG/DAH/DAI/DAJ/DAK address (version 1 also DAL-DAP); DCG country. Dates are
MMDDCCYY on US documents and CCYYMMDD on Canadian ones (country from DCG, else the
issuer number) and on version 1; a date that does not read the expected way but reads
the other way is taken that way.

:func:`parse_aamva` never raises: what it cannot read is listed in ``problems`` and the
rest is returned. Names and address come back as printed (usually upper case).
Age is in whole years on ``today`` (someone born on 29 February turns a year older on
1 March in common years); a document is valid through its expiry date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = ["Address", "IdDocument", "looks_like_aamva", "parse_aamva"]

#: Issuer identification numbers of Canadian jurisdictions (their dates are CCYYMMDD).
CANADIAN_IINS = frozenset(
    {
        "604426", "604428", "604429", "604430", "604432", "604433",
        "636012", "636013", "636016", "636017", "636028", "636044", "636048",
    }
)  # fmt: skip
_FILE_TYPES = ("ANSI ", "AAMVA", "ANSI")
_DIRECTORY_ENTRY = re.compile(r"[A-Z][A-Z0-9][0-9]{8}")
_ELEMENT_ID = re.compile(r"[A-Z]{3}")
_SEX = {"1": "M", "2": "F", "9": "not_specified", "M": "M", "F": "F", "X": "X"}
_DOCUMENT_TYPES = ("DL", "ID")


@dataclass(frozen=True, slots=True)
class Address:
    """The holder's address as printed; ``postal_code`` US ZIP+4 as ``12345-6789``."""

    street: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class IdDocument:
    """What could be read from an AAMVA DL/ID payload; ``problems`` lists the rest."""

    issuer: str | None = None
    version: int | None = None
    jurisdiction_version: int | None = None
    document_type: str | None = None
    document_number: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    middle_name: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    expiry_date: date | None = None
    issue_date: date | None = None
    age: int | None = None
    expired: bool | None = None
    address: Address = field(default_factory=Address)
    country: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_fields(self) -> dict[str, Any]:
        """JSON-able details (dates as ISO strings)."""

        def iso(value: date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "issuer": self.issuer,
            "version": self.version,
            "jurisdiction_version": self.jurisdiction_version,
            "document_type": self.document_type,
            "document_number": self.document_number,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "middle_name": self.middle_name,
            "sex": self.sex,
            "birth_date": iso(self.birth_date),
            "expiry_date": iso(self.expiry_date),
            "issue_date": iso(self.issue_date),
            "age": self.age,
            "expired": self.expired,
            "address": {
                "street": self.address.street,
                "street2": self.address.street2,
                "city": self.address.city,
                "state": self.address.state,
                "postal_code": self.address.postal_code,
            },
            "country": self.country,
            "problems": list(self.problems),
        }


def looks_like_aamva(data: str) -> bool:
    """Cheap test: an ``@`` and ``ANSI``/``AAMVA`` at the start."""
    if not data.startswith("@"):
        return False
    head = data[:12]
    return "ANSI" in head or "AAMVA" in head


@dataclass(slots=True)
class _Header:
    issuer: str | None = None
    version: int | None = None
    jurisdiction_version: int | None = None
    directory: list[tuple[str, int, int]] = field(default_factory=list)
    body_start: int = 0
    element_separator: str = "\n"
    segment_terminator: str = "\r"


def parse_aamva(data: str, *, today: date | None = None) -> IdDocument:
    """Read an AAMVA DL/ID payload; never raises (see ``problems``)."""
    problems: list[str] = []
    header = _header(data, problems)
    document_type, elements = _elements(data, header, problems)
    today = today or date.today()
    issuer = header.issuer
    country = elements.get("DCG") or (
        "CAN" if issuer in CANADIAN_IINS else "USA" if issuer and issuer.startswith("636")
        else None
    )
    year_first = country == "CAN" or header.version == 1
    birth = _date(elements, "DBB", "birth date", year_first, problems)
    expiry = _date(elements, "DBA", "expiry date", year_first, problems)
    issued = _date(elements, "DBD", "issue date", year_first, problems)
    family, given, middle = _names(elements, header.version, problems)
    sex_code = elements.get("DBC")
    sex = _SEX.get(sex_code) if sex_code else None
    if sex_code and sex is None:
        problems.append(f"DBC sex {sex_code!r} is not 1, 2 or 9")
    if not elements.get("DAQ") and elements:
        problems.append("DAQ document number is missing")
    return IdDocument(
        issuer=issuer,
        version=header.version,
        jurisdiction_version=header.jurisdiction_version,
        document_type=document_type,
        document_number=elements.get("DAQ"),
        family_name=family,
        given_name=given,
        middle_name=middle,
        sex=sex,
        birth_date=birth,
        expiry_date=expiry,
        issue_date=issued,
        age=_age(birth, today) if birth else None,
        expired=(expiry < today) if expiry else None,
        address=_address(elements, country),
        country=country,
        problems=problems,
    )


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


# -- header and directory --------------------------------------------------------------


def _header(data: str, problems: list[str]) -> _Header:
    header = _Header()
    if not data.startswith("@"):
        problems.append("no '@' compliance indicator at the start")
    found = [(data.find(kind, 0, 12), kind) for kind in _FILE_TYPES]
    found = [(at, kind) for at, kind in found if at >= 0]
    if not found:
        problems.append("no 'ANSI ' or 'AAMVA' file type in the header")
        return header
    at, kind = min(found, key=lambda hit: (hit[0], -len(hit[1])))
    if at == 4:
        header.element_separator, header.segment_terminator = data[1], data[3]
    else:
        problems.append("header separators are missing (scanned through a keyboard wedge?)")
    pos = at + len(kind)
    issuer = data[pos : pos + 6]
    if len(issuer) == 6 and _digits(issuer):
        header.issuer = issuer
    else:
        problems.append("issuer number (IIN) is missing or not 6 digits")
        return header
    version_text = data[pos + 6 : pos + 8]
    if not (len(version_text) == 2 and _digits(version_text)):
        problems.append("AAMVA version is missing or not 2 digits")
        return header
    header.version = int(version_text)
    if not 1 <= header.version <= 10:
        problems.append(f"unknown AAMVA version {header.version}; read as the latest")
    # With a jurisdiction version (versions 2+) or without it (version 1): take the
    # layout under which the directory reads.
    layouts = [True, False] if header.version >= 2 else [False, True]
    for with_jurisdiction in layouts:
        start = pos + 8 + (2 if with_jurisdiction else 0)
        directory = _directory(data, start)
        if directory is not None:
            jurisdiction = data[pos + 8 : pos + 10]
            if with_jurisdiction and _digits(jurisdiction):
                header.jurisdiction_version = int(jurisdiction)
            elif with_jurisdiction:
                problems.append(f"jurisdiction version {jurisdiction!r} is not 2 digits")
            header.directory, header.body_start = directory
            return header
    problems.append("subfile directory is missing or unreadable")
    header.body_start = pos + 8
    return header


def _directory(data: str, start: int) -> tuple[list[tuple[str, int, int]], int] | None:
    count_text = data[start : start + 2]
    if not (len(count_text) == 2 and _digits(count_text)) or int(count_text) == 0:
        return None
    entries = []
    pos = start + 2
    for _ in range(int(count_text)):
        entry = data[pos : pos + 10]
        if not _DIRECTORY_ENTRY.fullmatch(entry):
            return None
        entries.append((entry[:2], int(entry[2:6]), int(entry[6:10])))
        pos += 10
    return entries, pos


def _elements(data: str, header: _Header, problems: list[str]) -> tuple[str | None, dict[str, str]]:
    """The type and elements of the DL or ID subfile (the first one there is)."""
    for kind, offset, length in header.directory:
        if kind not in _DOCUMENT_TYPES:
            continue
        start = offset if data.startswith(kind, offset) else data.find(kind, header.body_start)
        if start < 0:
            problems.append(f"subfile {kind} is missing")
            continue
        end = start + length
        if end > len(data):
            problems.append(f"subfile {kind} is truncated ({len(data) - start} of {length})")
        return kind, _split(data[start + 2 : end], header, problems)
    if not header.directory and header.body_start:
        # No usable directory: read the first DL/ID subfile found after the header.
        match = re.compile(r"(DL|ID)(?=[A-Z]{3})").search(data, header.body_start)
        if match:
            return match.group(1), _split(data[match.end() :], header, problems)
    if header.issuer is not None:
        problems.append("no DL or ID subfile")
    return None, {}


def _split(body: str, header: _Header, problems: list[str]) -> dict[str, str]:
    terminator = body.find(header.segment_terminator)
    if terminator >= 0:
        body = body[:terminator]
    elements: dict[str, str] = {}
    for line in body.split(header.element_separator):
        line = line.strip("\r\n")
        if not line:
            continue
        element_id = line[:3]
        if not _ELEMENT_ID.fullmatch(element_id):
            problems.append(f"unreadable element {line[:3]!r}")
            continue
        value = line[3:].strip()
        if value:
            elements.setdefault(element_id, value)
    return elements


# -- values ----------------------------------------------------------------------------


def _read_date(text: str, year_first: bool) -> date | None:
    if len(text) != 8 or not _digits(text):
        return None
    if year_first:
        year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    else:
        month, day, year = int(text[:2]), int(text[2:4]), int(text[4:])
    if not 1850 <= year <= 2200:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _date(
    elements: dict[str, str], element: str, what: str, year_first: bool, problems: list[str]
) -> date | None:
    text = elements.get(element)
    if text is None:
        return None
    value = _read_date(text, year_first) or _read_date(text, not year_first)
    if value is None:
        problems.append(f"{element} {what} {text!r} is not a date")
    return value


def _split_given(text: str) -> tuple[str | None, str | None]:
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        return None, None
    return parts[0], " ".join(parts[1:]) or None


def _names(
    elements: dict[str, str], version: int | None, problems: list[str]
) -> tuple[str | None, str | None, str | None]:
    family = elements.get("DCS") or elements.get("DAB")
    given = elements.get("DAC")
    middle = elements.get("DAD")
    if given is None and "DCT" in elements:  # versions 2-3: given names in one element
        given, dct_middle = _split_given(elements["DCT"])
        middle = middle or dct_middle
    if (family is None or given is None) and "DAA" in elements:  # version 1: full name
        parts = [p.strip() for p in elements["DAA"].split(",")]
        if len(parts) == 1:
            parts = parts[0].split()
        family = family or (parts[0] if parts else None)
        given = given or (parts[1] if len(parts) > 1 else None)
        middle = middle or (" ".join(parts[2:]) if len(parts) > 2 else None)
    if family is None and given is None and elements:
        problems.append("no name elements (DCS/DAC, DCT or DAA)")
    return family or None, given or None, middle or None


def _postal_code(text: str | None, country: str | None) -> str | None:
    if not text:
        return None
    code = text.strip()
    if country != "CAN" and len(code) == 9 and _digits(code):
        return code[:5] if code[5:] == "0000" else f"{code[:5]}-{code[5:]}"
    return code


def _address(elements: dict[str, str], country: str | None) -> Address:
    def first(*ids: str) -> str | None:
        return next((elements[i] for i in ids if elements.get(i)), None)

    return Address(
        street=first("DAG", "DAL"),
        street2=first("DAH", "DAM"),
        city=first("DAI", "DAN"),
        state=first("DAJ", "DAO"),
        postal_code=_postal_code(first("DAK", "DAP"), country),
    )


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
