"""One exception root for everything the drivers library raises.

Every error carries a stable ``code`` string that callers (the daemon's API, logs,
technicians) can rely on; messages are for humans and may change.

    DeviceError                      device_error
    ├── InvalidURL                   invalid_url         a device URL that cannot be used
    ├── UnsupportedFeature           unsupported         the device/profile cannot do this
    ├── EncodingError                encoding_error      content that cannot be turned into bytes
    │   └── InvalidReceipt           invalid_receipt     (RKSV) a receipt that cannot be signed
    ├── TransportError               transport_error
    │   ├── ConnectFailed            connect_failed      could not open the link
    │   ├── ConnectionLost           connection_lost     the link dropped while in use
    │   └── TransportTimeout         timeout             the device did not answer in time
    ├── ProtocolError                protocol_error      an answer we cannot parse
    ├── ReceiptSequenceError         receipt_sequence    (RKSV) a receipt out of order
    │   └── ZeroReceiptRequired      zero_receipt_required  after an outage, a zero receipt first
    └── DeviceNotReady               device_not_ready    paper out, cover open, offline, ...
        └── SignatureUnitUnavailable signature_unit_unavailable  (RKSV) the signing unit is down

The RKSV ones live in ``drivers.fiscal.rksv``; the Italian printer's in
``drivers.fiscal.epson_it``.

Third-party exceptions (OSError, serial.SerialException, usb.core.USBError, escpos errors)
are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "ConnectFailed",
    "ConnectionLost",
    "DeviceError",
    "DeviceNotReady",
    "EncodingError",
    "InvalidURL",
    "ProtocolError",
    "TransportError",
    "TransportTimeout",
    "UnsupportedFeature",
]


class DeviceError(Exception):
    """Root of every error raised by the drivers library."""

    code = "device_error"


class InvalidURL(DeviceError):
    code = "invalid_url"


class UnsupportedFeature(DeviceError):
    code = "unsupported"


class EncodingError(DeviceError):
    code = "encoding_error"


class TransportError(DeviceError):
    code = "transport_error"


class ConnectFailed(TransportError):
    code = "connect_failed"


class ConnectionLost(TransportError):
    code = "connection_lost"


class TransportTimeout(TransportError):
    code = "timeout"


class ProtocolError(DeviceError):
    code = "protocol_error"


class DeviceNotReady(DeviceError):
    """The device is reachable but cannot do work now (paper out, cover open, offline)."""

    code = "device_not_ready"
