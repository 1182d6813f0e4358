"""Byte links to devices, chosen by URL scheme.

    transport = await open_transport("tcp://192.168.1.50:9100")
    await transport.write(b"\\x10\\x04\\x01")
    reply = await transport.read(1, timeout=1.0)

Schemes: ``tcp``, ``serial``, ``usb``, ``file``, ``emu`` and the ``spy+<scheme>``
wrapper; applications add their own with ``register_transport``.
"""

from __future__ import annotations

from drivers.transports.base import Transport
from drivers.transports.registry import (
    known_schemes,
    open_transport,
    register_transport,
    transport_for,
)

__all__ = ["Transport", "known_schemes", "open_transport", "register_transport", "transport_for"]
