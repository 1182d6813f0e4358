"""What classifying a scan produces (:class:`Classification`) and the one error the
package raises (:class:`ScanConfigError`, for platform settings that cannot be used).

Classifying never raises for bad *scan* data: a scan that is not understood is
``kind="unknown"``, a damaged ID document is ``kind="id_document"`` with ``problems``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Classification", "ScanConfigError", "ScanKind"]


class ScanKind(enum.StrEnum):
    """What a scan turned out to be."""

    CUSTOMER_IDENTIFIER = "customer_identifier"
    PRODUCT = "product"
    ID_DOCUMENT = "id_document"
    CONTACT = "contact"
    UNKNOWN = "unknown"


#: Kinds that carry personal data: the daemon redacts them from logs and expires them
#: from its replay buffer.
PERSONAL_KINDS = frozenset({ScanKind.ID_DOCUMENT, ScanKind.CONTACT})


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of classifying one scan.

    ``search_value`` is what the POS app searches customer profiles with
    (``None`` for products and unknown scans); ``auto_populate`` maps profile field
    paths (``"email"``, ``"extendedAttributes.loyalty_id"``) to values the app fills
    in when the search finds nobody; ``fields`` holds the parsed details (GTIN and
    AIs, ID-document data, contact data), JSON-able; ``rule_index`` is the index of the
    ``customer_profile_scanner_identifiers`` entry that matched, if any.
    """

    kind: ScanKind
    search_value: str | None = None
    auto_populate: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    rule_index: int | None = None

    @property
    def personal(self) -> bool:
        """True for ID documents and contacts: never log them, do not keep them."""
        return self.kind in PERSONAL_KINDS

    def to_public(self) -> dict[str, Any]:
        """A JSON-able dict for events and API answers (the caller decides on redaction)."""
        return {
            "kind": self.kind.value,
            "search_value": self.search_value,
            "auto_populate": dict(self.auto_populate),
            "fields": self.fields,
            "rule_index": self.rule_index,
            "personal": self.personal,
        }


class ScanConfigError(ValueError):
    """Customer-profile scan settings that cannot be used.

    ``field`` locates the problem as the platform names it, e.g.
    ``customer_profile_scanner_identifiers[2].regex``; ``str()`` starts with it.
    ``code`` is stable for the API.
    """

    code = "invalid_scan_config"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
