"""Device URLs: ``scheme://address?option=value``, parsed once into a typed value.

Examples::

    tcp://192.168.1.50:9100
    serial:///dev/ttyUSB0?baudrate=38400&parity=N&rtscts=1
    usb://04b8:0e15?serial=X1234
    file:///dev/usb/lp0
    emu://escpos/receipt-1?profile=TM-T88V
    spy+tcp://192.168.1.50:9100        (hex-dumps traffic to the log)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from drivers.errors import InvalidURL

__all__ = ["DeviceURL"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class DeviceURL:
    """A parsed device URL. ``options`` holds the query string, one value per key."""

    raw: str
    scheme: str
    host: str
    port: int | None
    path: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str) -> DeviceURL:
        parts = urlsplit(raw)
        if not parts.scheme or "://" not in raw:
            raise InvalidURL(f"{raw!r} is not a device URL (expected scheme://address)")
        try:
            port = parts.port
        except ValueError:
            # Not every scheme has a port after the colon (``usb://04b8:0e15`` is VID:PID),
            # so a non-numeric one is left in ``netloc``; transports that need a port
            # validate it themselves.
            port = None
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        options: dict[str, str] = {}
        for key, value in pairs:
            if key in options:
                raise InvalidURL(f"{raw!r}: option {key!r} given twice")
            options[key] = value
        return cls(
            raw=raw,
            scheme=parts.scheme.lower(),
            host=parts.hostname or "",
            port=port,
            path=parts.path,
            options=options,
        )

    @property
    def netloc(self) -> str:
        """The part between ``//`` and the path, as written (e.g. ``04b8:0e15``)."""
        return urlsplit(self.raw).netloc

    def without_wrapper(self) -> DeviceURL:
        """``spy+tcp://x`` → ``tcp://x``: the URL of the transport a wrapper scheme wraps."""
        if "+" not in self.scheme:
            raise InvalidURL(f"{self.raw!r} has no wrapper scheme")
        inner = self.scheme.split("+", 1)[1]
        return DeviceURL.parse(inner + self.raw[self.raw.index("://") :])

    def str_option(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def int_option(self, key: str, default: int) -> int:
        value = self.options.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise InvalidURL(f"{self.raw!r}: option {key}={value!r} is not a whole number") from exc

    def float_option(self, key: str, default: float) -> float:
        value = self.options.get(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError as exc:
            raise InvalidURL(f"{self.raw!r}: option {key}={value!r} is not a number") from exc

    def bool_option(self, key: str, default: bool) -> bool:
        value = self.options.get(key)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise InvalidURL(f"{self.raw!r}: option {key}={value!r} is not true/false")

    def check_options(self, allowed: set[str]) -> None:
        """Reject options a transport does not know, naming them."""
        unknown = sorted(set(self.options) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed)) or "none"
            raise InvalidURL(
                f"{self.raw!r}: unknown option(s) {', '.join(unknown)} (known: {known})"
            )
