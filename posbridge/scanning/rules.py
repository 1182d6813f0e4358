"""The platform's customer-profile scan settings, validated once into compiled rules.

Accepted exactly as the retail platform serves them (so a store's settings carry over)::

    {
      "customer_profile_scanner_identifiers": [
        {"scanner_code_type": 1024, "regex": "^MEMBER-(\\\\d{6})$"}, ...],
      "customer_profile_auto_populate_fields": [
        {"field_path": "email", "regex": "^[^@\\\\s]+@[^@\\\\s]+$"}, ...]
    }

Both keys are optional. Other keys of the object, and other keys of an entry, are kept
untouched for :meth:`CustomerProfileConfig.to_platform` (the platform adds settings over
time); the known keys of every entry are checked strictly and errors name the entry,
``customer_profile_scanner_identifiers[2].regex: ...``.

Identifier rules: ``scanner_code_type`` is a mask of the code-type bits
(:data:`drivers.scanner.symbology.CODE_TYPE_BITS`): a rule applies when it shares a bit
with the scan's code type, so ``1024`` means Code 128 and ``1025`` QR *or* Code 128.
Bits no symbology has are ignored, and ``0`` applies to nothing (kept, not refused, so
settings load). The regex is searched (unanchored, as JavaScript's ``exec``); the first
rule, in list order, whose code type and regex both match wins. Its first capture group
is the search value; a regex without groups yields the whole match; a rule whose first
group did not take part or captured nothing does not match and the next rule is tried.

Auto-populate rules: the value fills the *first* field (list order) whose regex matches
it, and only that one; the platform fills one field per scanned value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from posbridge.scanning.jsregex import JsRegex, compile_js_regex
from posbridge.scanning.result import ScanConfigError

__all__ = ["AutoPopulateRule", "CustomerProfileConfig", "IdentifierRule", "ScanConfigError"]

IDENTIFIERS_KEY = "customer_profile_scanner_identifiers"
AUTO_POPULATE_KEY = "customer_profile_auto_populate_fields"


@dataclass(frozen=True, slots=True)
class IdentifierRule:
    """One ``customer_profile_scanner_identifiers`` entry."""

    scanner_code_type: int
    regex: JsRegex
    extra: Mapping[str, Any] = field(default_factory=dict)

    def match(self, data: str, code_type: int) -> str | None:
        """The search value this rule takes from ``data``, or None."""
        if not self.scanner_code_type & code_type:
            return None
        found = self.regex.pattern.search(data)
        if found is None:
            return None
        value = found.group(1) if found.re.groups else found.group(0)
        return value or None


@dataclass(frozen=True, slots=True)
class AutoPopulateRule:
    """One ``customer_profile_auto_populate_fields`` entry."""

    field_path: str
    regex: JsRegex
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomerProfileConfig:
    """Compiled customer-profile scan settings; build with :meth:`from_platform`."""

    identifiers: tuple[IdentifierRule, ...] = ()
    auto_populate_fields: tuple[AutoPopulateRule, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_platform(cls, data: Mapping[str, Any]) -> CustomerProfileConfig:
        """Validate the platform's settings object; raises ``ScanConfigError``."""
        if not isinstance(data, Mapping):
            raise ScanConfigError("settings", "must be an object")
        identifiers = tuple(
            _identifier(entry, f"{IDENTIFIERS_KEY}[{index}]")
            for index, entry in enumerate(_list(data, IDENTIFIERS_KEY))
        )
        auto = tuple(
            _auto_populate(entry, f"{AUTO_POPULATE_KEY}[{index}]")
            for index, entry in enumerate(_list(data, AUTO_POPULATE_KEY))
        )
        extra = {k: v for k, v in data.items() if k not in (IDENTIFIERS_KEY, AUTO_POPULATE_KEY)}
        return cls(identifiers=identifiers, auto_populate_fields=auto, extra=extra)

    def to_platform(self) -> dict[str, Any]:
        """The settings in the platform's shape (round-trips :meth:`from_platform`)."""
        return {
            **self.extra,
            IDENTIFIERS_KEY: [
                {
                    **rule.extra,
                    "scanner_code_type": rule.scanner_code_type,
                    "regex": rule.regex.text,
                }
                for rule in self.identifiers
            ],
            AUTO_POPULATE_KEY: [
                {**rule.extra, "field_path": rule.field_path, "regex": rule.regex.text}
                for rule in self.auto_populate_fields
            ],
        }

    def match_identifier(self, data: str, code_type: int) -> tuple[int, str] | None:
        """``(index, search_value)`` of the first identifier rule matching, else None."""
        for index, rule in enumerate(self.identifiers):
            value = rule.match(data, code_type)
            if value is not None:
                return index, value
        return None

    def auto_populate(self, value: str) -> dict[str, str]:
        """``{field_path: value}`` for the first auto-populate rule matching, else ``{}``."""
        for rule in self.auto_populate_fields:
            if rule.regex.pattern.search(value):
                return {rule.field_path: value}
        return {}


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScanConfigError(key, f"must be a list, not {type(value).__name__}")
    return value


def _entry(entry: Any, where: str, keys: tuple[str, str]) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ScanConfigError(where, f"must be an object, not {type(entry).__name__}")
    for key in keys:
        if key not in entry:
            raise ScanConfigError(f"{where}.{key}", "is missing")
    return {k: v for k, v in entry.items() if k not in keys}


def _regex(entry: Mapping[str, Any], where: str) -> JsRegex:
    text = entry["regex"]
    if not isinstance(text, str) or not text:
        raise ScanConfigError(f"{where}.regex", "must be a non-empty string")
    return compile_js_regex(text, where=f"{where}.regex")


def _identifier(entry: Any, where: str) -> IdentifierRule:
    extra = _entry(entry, where, ("scanner_code_type", "regex"))
    code_type = entry["scanner_code_type"]
    if isinstance(code_type, bool) or not isinstance(code_type, int) or code_type < 0:
        raise ScanConfigError(
            f"{where}.scanner_code_type", f"must be a non-negative integer, not {code_type!r}"
        )
    return IdentifierRule(scanner_code_type=code_type, regex=_regex(entry, where), extra=extra)


def _auto_populate(entry: Any, where: str) -> AutoPopulateRule:
    extra = _entry(entry, where, ("field_path", "regex"))
    path = entry["field_path"]
    if not isinstance(path, str) or not path.strip():
        raise ScanConfigError(f"{where}.field_path", "must be a non-empty string")
    return AutoPopulateRule(field_path=path, regex=_regex(entry, where), extra=extra)
