"""Contact data a customer shows on their phone: ``mailto:``, ``tel:``, MECARD and vCard.

* ``mailto:jane@example.com?subject=...``: the first address (percent-decoded); the
  query is ignored.
* ``tel:+43-1-234567``: the number.
* ``MECARD:N:Doe,John;TEL:+4312345;EMAIL:jane@example.com;;`` with ``\\;`` ``\\:``
  ``\\,`` ``\\\\`` escapes.
* vCard 2.1/3.0/4.0: folded lines unfolded, ``FN``, ``N`` (family;given;middle;...),
  every ``EMAIL`` and ``TEL`` whatever their parameters, ``TEL;VALUE=uri:tel:+1-...``.
  Quoted-printable (2.1) values are not decoded.

Phone numbers are normalised to E.164 with ``phonenumbers``, national numbers read in
``default_region``; a number that is not even *possible* (wrong length for its country)
is dropped into ``problems``. Validity is not required: shops see test and new ranges.
Email addresses keep their local part as written and get a lower-case domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import phonenumbers

__all__ = ["Contact", "normalize_phone", "parse_contact"]

_EMAIL = re.compile(r"[^@\s<>,;:]+@[^@\s<>,;:]+\.[^@\s<>,;:]+")
_VCARD_FOLD = re.compile(r"\r?\n[ \t]")
_MECARD_ESCAPE = re.compile(r"\\(.)")
_VCARD_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\", ":": ":"}


@dataclass(frozen=True, slots=True)
class Contact:
    """Names, addresses and numbers from one contact scan; phones in E.164."""

    source: str
    full_name: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def search_value(self) -> str | None:
        """The first email, else the first phone number: what to search profiles by."""
        values = self.emails or self.phones
        return values[0] if values else None

    def to_fields(self) -> dict[str, Any]:
        """JSON-able details."""
        return {
            "source": self.source,
            "full_name": self.full_name,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "emails": list(self.emails),
            "phones": list(self.phones),
            "problems": list(self.problems),
        }


def normalize_phone(number: str, default_region: str) -> str | None:
    """``number`` in E.164 (``+4312345678``), or None when it cannot be a phone number."""
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _email(text: str) -> str | None:
    text = text.strip()
    if not _EMAIL.fullmatch(text):
        return None
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


class _Builder:
    def __init__(self, source: str, region: str) -> None:
        self.source = source
        self.region = region
        self.names: dict[str, str | None] = {"full": None, "family": None, "given": None}
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.problems: list[str] = []

    def email(self, text: str) -> None:
        email = _email(text)
        if email is None:
            self.problems.append(f"not an email address: {text!r}")
        elif email not in self.emails:
            self.emails.append(email)

    def phone(self, text: str) -> None:
        number = text.strip()
        if number[:4].lower() == "tel:":
            number = unquote(number[4:]).split(";", 1)[0]
        phone = normalize_phone(number, self.region)
        if phone is None:
            self.problems.append(f"not a phone number: {text!r}")
        elif phone not in self.phones:
            self.phones.append(phone)

    def build(self) -> Contact | None:
        if not (self.emails or self.phones or any(self.names.values())):
            return None
        return Contact(
            source=self.source,
            full_name=self.names["full"],
            family_name=self.names["family"],
            given_name=self.names["given"],
            emails=self.emails,
            phones=self.phones,
            problems=self.problems,
        )


def parse_contact(data: str, *, default_region: str = "AT") -> Contact | None:
    """The contact in ``data``, or None when it is no contact format. Never raises."""
    head = data[:7].upper()
    if head.startswith("MAILTO:"):
        return _mailto(data, default_region)
    if head.startswith("TEL:"):
        builder = _Builder("tel", default_region)
        builder.phone(data)
        return builder.build()
    if head.startswith("MECARD:"):
        return _mecard(data, default_region)
    if head.startswith("BEGIN:V") and data[:11].upper() == "BEGIN:VCARD":
        return _vcard(data, default_region)
    return None


def _mailto(data: str, region: str) -> Contact | None:
    builder = _Builder("mailto", region)
    addresses = unquote(data[7:].split("?", 1)[0])
    first = addresses.split(",", 1)[0]
    if first:
        builder.email(first)
    return builder.build()


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape_mecard(text: str) -> str:
    return _MECARD_ESCAPE.sub(lambda m: m.group(1), text)


def _mecard(data: str, region: str) -> Contact | None:
    builder = _Builder("mecard", region)
    for part in _split_unescaped(data[7:], ";"):
        key, sep, value = part.partition(":")
        if not sep:
            continue
        key = key.strip().upper()
        if key == "N":
            names = [_unescape_mecard(n).strip() for n in _split_unescaped(value, ",")]
            builder.names["family"] = names[0] or None
            builder.names["given"] = names[1] if len(names) > 1 and names[1] else None
            builder.names["full"] = " ".join(n for n in reversed(names[:2]) if n) or None
        elif key == "EMAIL":
            builder.email(_unescape_mecard(value))
        elif key == "TEL":
            builder.phone(_unescape_mecard(value))
    return builder.build()


def _unescape_vcard(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _VCARD_ESCAPES.get(m.group(1), m.group(1)), text)


def _vcard(data: str, region: str) -> Contact | None:
    builder = _Builder("vcard", region)
    for line in _VCARD_FOLD.sub("", data).splitlines():
        name_part, sep, value = line.partition(":")
        if not sep:
            continue
        prop = name_part.split(";", 1)[0].rsplit(".", 1)[-1].strip().upper()  # item1.EMAIL
        if prop == "FN":
            builder.names["full"] = _unescape_vcard(value).strip() or None
        elif prop == "N":
            parts = [_unescape_vcard(p).strip() for p in _split_unescaped(value, ";")]
            builder.names["family"] = parts[0] or None
            builder.names["given"] = parts[1] if len(parts) > 1 and parts[1] else None
        elif prop == "EMAIL":
            builder.email(_unescape_vcard(value))
        elif prop == "TEL":
            builder.phone(_unescape_vcard(value))
    if builder.names["full"] is None and (builder.names["given"] or builder.names["family"]):
        given, family = builder.names["given"], builder.names["family"]
        builder.names["full"] = " ".join(n for n in (given, family) if n)
    return builder.build()
