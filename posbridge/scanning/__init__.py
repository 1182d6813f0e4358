"""Scan classification: is a scan a product, an ID document, a contact or a customer?

:func:`classify` is the entry point; :class:`CustomerProfileConfig` holds the retail
platform's ``customer_profile_scanner_identifiers`` and
``customer_profile_auto_populate_fields`` (JavaScript regexes, translated by
:mod:`~posbridge.scanning.jsregex`). Modules: ``gs1`` (products), ``aamva`` (driver's
licences), ``contacts`` (mailto, tel, MECARD, vCard), ``rules``, ``result``.

Nothing is imported here: the GS1 and phone-number libraries take a while to load, and
a daemon without scanners should not pay for them at start.
"""
