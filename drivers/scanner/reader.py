"""What every scanner driver is: an async source of scans, and an async context manager."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import ClassVar, Self

from drivers.scanner.scan import Scan

__all__ = ["ScanReader"]


class ScanReader(ABC):
    """A scanner driver (serial, keyboard wedge, HID POS).

    ``read_scan`` waits for the next scan and raises ``ConnectionLost`` when the scanner
    goes away; ``aclose`` is idempotent.
    """

    kind: ClassVar[str] = "scanner"

    @abstractmethod
    async def read_scan(self) -> Scan:
        """The next complete scan."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the device."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
