"""The error fiscal requests end in; its status and code are what the API answers.

Kept apart from the service so the API can name it without loading the signing code.
"""

from __future__ import annotations

__all__ = ["FiscalError"]


class FiscalError(Exception):
    """A fiscal request that cannot be done; ``status`` and ``code`` are for the API."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
