"""Scan classification: is a scan a product, an ID document, a contact or a customer?

:func:`classify` is the entry point; :class:`CustomerProfileConfig` holds the retail
platform's ``customer_profile_scanner_identifiers`` and
``customer_profile_auto_populate_fields`` (JavaScript regexes, translated by
:mod:`~posbridge.scanning.jsregex`). Modules: ``gs1`` (products), ``aamva`` (driver's
licences), ``contacts`` (mailto, tel, MECARD, vCard), ``rules``, ``result``.
"""

from posbridge.scanning.classify import classify
from posbridge.scanning.result import Classification, ScanConfigError, ScanKind
from posbridge.scanning.rules import CustomerProfileConfig

__all__ = [
    "Classification",
    "CustomerProfileConfig",
    "ScanConfigError",
    "ScanKind",
    "classify",
]
