"""``emu://KIND/NAME?options``: a link to an in-process emulator.

``emu://escpos/receipt-1?profile=TM-T88V`` reaches the emulator named ``receipt-1`` of
kind ``escpos`` in the given ``EmulatorHub`` (created on first use with the URL's options,
which belong to the emulator). Without a name the kind doubles as the name.
"""

from __future__ import annotations

from drivers.emulation import Emulator, EmulatorHub, EmulatorSession
from drivers.errors import ConnectionLost, InvalidURL, UnsupportedFeature
from drivers.transports.base import Transport
from drivers.url import DeviceURL

__all__ = ["EmuTransport"]


class EmuTransport(Transport):
    """Bytes go straight into the emulator's state machine; replies come from its session."""

    def __init__(self, url: DeviceURL, *, emulators: EmulatorHub | None = None) -> None:
        super().__init__(url)
        self.kind = url.host
        if not self.kind:
            raise InvalidURL(f"{url.raw!r}: expected emu://KIND/NAME, e.g. emu://escpos/receipt-1")
        self.name = url.path.strip("/") or self.kind
        if "/" in self.name:
            raise InvalidURL(f"{url.raw!r}: emulator name {self.name!r} must not contain '/'")
        self.hub = emulators if emulators is not None else EmulatorHub()
        # Creating the emulator now surfaces a bad kind or option at configuration time.
        try:
            self.emulator: Emulator = self.hub.get_or_create(self.kind, self.name, url.options)
        except (UnsupportedFeature, ValueError, KeyError) as exc:
            raise InvalidURL(f"{url.raw!r}: {exc}") from exc
        self._session: EmulatorSession | None = None

    async def open(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        self._session = self.emulator.connect()

    def _live_session(self) -> EmulatorSession:
        if self._session is None:
            raise ConnectionLost(f"{self.url.raw}: not open")
        return self._session

    async def write(self, data: bytes) -> None:
        await self._live_session().write(data)

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109 - the Transport interface
        return await self._live_session().read(max_bytes, timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
