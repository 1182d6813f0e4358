"""Which ``Transport`` class serves which URL scheme.

Built-in transports are named as ``module:Class`` strings and imported on first use, so
importing ``drivers.transports`` stays cheap (no pyusb/pyserial until a URL needs them).
Wrapper schemes such as ``spy+tcp://`` wrap whatever transport the inner scheme names.
"""

from __future__ import annotations

import importlib
import re

from drivers.emulation import EmulatorHub
from drivers.errors import InvalidURL
from drivers.transports.base import Transport
from drivers.transports.emu import EmuTransport
from drivers.transports.spy import SpyTransport
from drivers.url import DeviceURL

__all__ = [
    "known_schemes",
    "open_transport",
    "register_transport",
    "seconds_option",
    "transport_for",
]

_BUILTIN: dict[str, str] = {
    "tcp": "drivers.transports.tcp:TcpTransport",
    "serial": "drivers.transports.serial_port:SerialTransport",
    "usb": "drivers.transports.usb:UsbTransport",
    "file": "drivers.transports.file:FileTransport",
    "emu": "drivers.transports.emu:EmuTransport",
}

_WRAPPERS = {"spy": SpyTransport}

# RFC 3986 scheme characters, minus "+" which introduces a wrapper (spy+tcp).
_SCHEME = re.compile(r"[a-z][a-z0-9.-]*")

# Explicit registrations win over built-ins so an application can replace one.
_registered: dict[str, type[Transport]] = {}


def register_transport(scheme: str, cls: type[Transport]) -> None:
    """Serve ``scheme://`` URLs with ``cls`` (constructed as ``cls(url)``, then validated)."""
    scheme = scheme.lower()
    if not _SCHEME.fullmatch(scheme):
        raise ValueError(f"{scheme!r} is not a usable URL scheme")
    if scheme in _WRAPPERS:
        raise ValueError(f"{scheme!r} is a wrapper scheme")
    _registered[scheme] = cls


def seconds_option(url: DeviceURL, key: str, default: float) -> float:
    """The ``key=SECONDS`` option of ``url``, which must be a positive number."""
    value = url.float_option(key, default)
    if not value > 0:  # also rejects nan
        raise InvalidURL(f"{url.raw!r}: option {key}={value} must be a positive number of seconds")
    return value


def local_path(url: DeviceURL, example: str) -> str:
    """The absolute path of a ``scheme:///PATH`` URL; ``example`` shows the right form."""
    if url.host or not url.path.startswith("/") or url.path == "/":
        raise InvalidURL(
            f"{url.raw!r}: expected {url.scheme}:///PATH (three slashes), e.g. {example}"
        )
    return url.path


def known_schemes() -> list[str]:
    """Every scheme a URL may use, built-in or registered (wrappers not included)."""
    return sorted(set(_BUILTIN) | set(_registered))


def _load(target: str) -> type[Transport]:
    module_name, _, class_name = target.partition(":")
    cls: type[Transport] = getattr(importlib.import_module(module_name), class_name)
    return cls


def _class_for(url: DeviceURL) -> type[Transport]:
    cls = _registered.get(url.scheme)
    if cls is not None:
        return cls
    target = _BUILTIN.get(url.scheme)
    if target is None:
        raise InvalidURL(
            f"{url.raw!r}: unknown scheme {url.scheme!r} (known: {', '.join(known_schemes())})"
        )
    return _load(target)


def transport_for(url: str | DeviceURL, *, emulators: EmulatorHub | None = None) -> Transport:
    """Build (but do not open) the transport for ``url``, validating every option.

    Raises ``InvalidURL`` naming the problem, so a bad configured URL is caught at start.
    ``emulators`` is the hub ``emu://`` URLs attach to (a private one when omitted).
    """
    parsed = url if isinstance(url, DeviceURL) else DeviceURL.parse(url)
    if "+" in parsed.scheme:
        wrapper, _, _ = parsed.scheme.partition("+")
        wrapper_cls = _WRAPPERS.get(wrapper)
        if wrapper_cls is None:
            raise InvalidURL(
                f"{parsed.raw!r}: unknown wrapper {wrapper!r} (known: {', '.join(_WRAPPERS)})"
            )
        inner = transport_for(parsed.without_wrapper(), emulators=emulators)
        return wrapper_cls(parsed, inner)
    cls = _class_for(parsed)
    if issubclass(cls, EmuTransport):
        return cls(parsed, emulators=emulators)
    return cls(parsed)


async def open_transport(
    url: str | DeviceURL, *, emulators: EmulatorHub | None = None
) -> Transport:
    """Build the transport for ``url`` and open it (``ConnectFailed`` if it cannot)."""
    transport = transport_for(url, emulators=emulators)
    await transport.open()
    return transport
