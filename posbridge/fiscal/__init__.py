"""Fiscal cashboxes: the tamper-evident journal, the platform-shaped model and the
offline strategies.

``journal``  append-only, hash-chained SQLite journal (one chain per cashbox), verified
             at every start.
``models``   pydantic models shaped like the retail platform's: offline mode, fiscal
             stores, cashboxes (``rksv-at``, ``epson-it``), transaction requests/answers.
``offline``  pure decision logic: what to do with a transaction while the signer is down,
             and which strategies each country's law allows.

The signing libraries and device drivers live in ``drivers.fiscal``; this package never
talks to a device itself.
"""
