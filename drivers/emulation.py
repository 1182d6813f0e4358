"""Emulators as first-class devices.

An ``Emulator`` is the device's protocol state machine: it takes host→device bytes,
answers status queries and keeps what it "printed". It knows nothing about links.
Links attach through ``EmulatorSession`` objects: the in-process ``emu://`` transport,
the TCP listener and the pseudo-terminal server all pump bytes through a session, so
one emulator class serves all three.

Link faults live here because they are the same for every device kind:
``{"link": "down"}`` drops every session and refuses new ones, ``{"link": "up"}``
restores, ``{"link": "slow"}`` (or ``{"link_bps": "9600"}``) throttles writes like a
slow serial line. Device faults (paper, cover, ...) are handled by each emulator.
"""

from __future__ import annotations

import asyncio
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import ClassVar

from drivers.errors import ConnectFailed, ConnectionLost, InvalidURL, UnsupportedFeature

__all__ = ["Emulator", "EmulatorHub", "EmulatorSession", "emulator_factory"]

SLOW_LINK_BPS = 9600 // 10  # 9600 baud 8N1 ≈ 960 bytes per second

# kind -> "module:Class"; imported lazily so nothing heavy loads at import time.
_BUILTIN_EMULATORS: dict[str, str] = {
    "escpos": "drivers.escpos.emulator:EscposEmulator",
    "zpl": "drivers.zpl.emulator:ZplEmulator",
    "scanner": "drivers.scanner.emulator:ScannerEmulator",
    "fpmate": "drivers.fiscal.epson_it.emulator:FpmateEmulator",
}


class EmulatorSession:
    """One host connection to an emulator (a TCP client, the pty, an emu:// transport)."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._inbox = bytearray()
        self._ready = asyncio.Event()
        self.closed = False

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionLost("emulated device disconnected")
        if self._emulator.link_bps:
            await asyncio.sleep(len(data) / self._emulator.link_bps)
            if self.closed:
                raise ConnectionLost("emulated device disconnected")
        reply = self._emulator.receive(data)
        if reply:
            self.push(reply)

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109
        if not self._inbox and not self.closed:
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return b""
        if not self._inbox and self.closed:
            raise ConnectionLost("emulated device disconnected")
        chunk = bytes(self._inbox[:max_bytes])
        del self._inbox[:max_bytes]
        return chunk

    def take(self) -> bytes:
        """Whatever device→host bytes are queued, without waiting (b"" if none)."""
        chunk = bytes(self._inbox)
        self._inbox.clear()
        return chunk

    def push(self, data: bytes) -> None:
        """Queue device→host bytes (replies and unsolicited status)."""
        self._inbox += data
        self._ready.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._ready.set()
            self._emulator._sessions.discard(self)


class Emulator(ABC):
    """Base of every device emulator. Subclasses implement the byte protocol."""

    kind: ClassVar[str]
    OPTIONS: ClassVar[frozenset[str]] = frozenset()
    """The options (``emu://KIND/NAME?option=value``) this kind of emulator takes."""

    def __init__(self) -> None:
        self._sessions: set[EmulatorSession] = set()
        self.link_down = False
        self.link_bps = 0  # 0 = unthrottled

    @classmethod
    def known_options(cls, options: Mapping[str, str] | None) -> dict[str, str]:
        """``options`` as a dict; raises InvalidURL naming any option this kind lacks."""
        opts = dict(options or {})
        unknown = sorted(set(opts) - cls.OPTIONS)
        if unknown:
            raise InvalidURL(
                f"unknown {cls.kind} emulator option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(cls.OPTIONS))})"
            )
        return opts

    # -- the protocol, implemented per device -------------------------------------------
    @abstractmethod
    def receive(self, data: bytes) -> bytes:
        """Consume host→device bytes (any split); return the bytes the device answers now."""

    @abstractmethod
    def check_device_fault(self, key: str, value: str) -> None:
        """Raise UnsupportedFeature if ``key=value`` is not a fault this device knows."""

    @abstractmethod
    def apply_device_fault(self, key: str, value: str) -> None:
        """Apply one device fault such as ``paper=out``; raise UnsupportedFeature if unknown."""

    @abstractmethod
    def output_text(self) -> str:
        """What came out of the device, as plain text."""

    @abstractmethod
    def output_png(self) -> bytes:
        """What came out of the device, rendered as a PNG."""

    @abstractmethod
    def clear_output(self) -> None:
        """Tear off the paper: forget what was printed so far."""

    def state(self) -> dict[str, str]:
        """Current fault state for display (device faults extend this)."""
        return {"link": "down" if self.link_down else ("slow" if self.link_bps else "up")}

    # -- links ---------------------------------------------------------------------------
    def connect(self) -> EmulatorSession:
        if self.link_down:
            raise ConnectFailed(f"emulated {self.kind} device is disconnected")
        session = EmulatorSession(self)
        self._sessions.add(session)
        return session

    def broadcast(self, data: bytes) -> None:
        """Send unsolicited device→host bytes (e.g. automatic status back) to every link."""
        for session in list(self._sessions):
            session.push(data)

    def apply_faults(self, faults: Mapping[str, str]) -> None:
        """Apply faults such as ``{"paper": "out"}`` or ``{"link": "down"}``: all of them,
        or none when one is unknown (UnsupportedFeature names it)."""
        for key, value in faults.items():
            if key == "link":
                if value not in ("up", "down", "slow"):
                    raise UnsupportedFeature(f"link={value!r}: expected up, down or slow")
            elif key == "link_bps":
                if not value.isdigit():
                    raise UnsupportedFeature(f"link_bps={value!r} is not a whole number")
            else:
                self.check_device_fault(key, value)
        for key, value in faults.items():
            if key == "link":
                self._apply_link(value)
            elif key == "link_bps":
                self.link_bps = int(value)
            else:
                self.apply_device_fault(key, value)

    def _apply_link(self, value: str) -> None:
        if value == "down":
            self.link_down = True
            for session in list(self._sessions):
                session.close()
        elif value == "up":
            self.link_down = False
            self.link_bps = 0
        elif value == "slow":
            self.link_bps = SLOW_LINK_BPS
        else:
            raise UnsupportedFeature(f"link={value!r}: expected up, down or slow")


EmulatorFactory = Callable[[Mapping[str, str]], Emulator]


def emulator_factory(kind: str) -> EmulatorFactory:
    """The class for an emulator kind, e.g. ``escpos``; raises UnsupportedFeature."""
    target = _BUILTIN_EMULATORS.get(kind)
    if target is None:
        known = ", ".join(sorted(_BUILTIN_EMULATORS))
        raise UnsupportedFeature(f"no emulator for {kind!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    factory: EmulatorFactory = getattr(importlib.import_module(module_name), class_name)
    return factory


class EmulatorHub:
    """Named emulator instances, so ``emu://escpos/receipt-1`` always reaches the same
    device and the daemon can show its output. Owned by whoever runs the emulators."""

    def __init__(self) -> None:
        self._emulators: dict[str, Emulator] = {}

    def get_or_create(self, kind: str, name: str, options: Mapping[str, str]) -> Emulator:
        existing = self._emulators.get(name)
        if existing is not None:
            if existing.kind != kind:
                raise UnsupportedFeature(
                    f"emulator {name!r} is a {existing.kind} emulator, not {kind}"
                )
            return existing
        emulator = emulator_factory(kind)(options)
        self._emulators[name] = emulator
        return emulator

    def get(self, name: str) -> Emulator | None:
        return self._emulators.get(name)

    def names(self) -> list[str]:
        return sorted(self._emulators)
