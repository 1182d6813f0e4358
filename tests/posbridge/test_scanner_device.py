"""The scanner device: scans classified and published, a failure does not stop it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from drivers.scanner.emulator import ScannerEmulator
from drivers.scanner.scan import Scan
from drivers.scanner.symbology import Symbology
from posbridge.config import parse_config
from posbridge.devices import DeviceManager, ScannerDevice
from posbridge.events import EventBus, Subscription
from posbridge.scanning.classify import classify
from posbridge.scanning.result import Classification
from posbridge.scanning.rules import CustomerProfileConfig

RULES = CustomerProfileConfig.from_platform(
    {"customer_profile_scanner_identifiers": [{"scanner_code_type": 1024, "regex": "^M(\\d+)$"}]}
)


async def _next(sub: Subscription, type: str, state: str | None = None) -> dict[str, object]:
    """The data of the next event of ``type`` (with that device ``state``, if given)."""
    async for event in sub:
        if event.type == type and (state is None or event.data.get("state") == state):
            return event.data
    raise AssertionError("the subscription ended")


async def test_a_failing_scan_is_logged_without_its_data_and_reading_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def flaky(scan: Scan) -> Classification:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError(f"a bug while looking at {scan.data}")
        return classify(scan.data, scan.symbology, RULES)

    config = parse_config(
        {"devices": [{"id": "s", "kind": "scanner", "url": "emu://scanner/s", "lane": "till-9"}]}
    )
    events = EventBus()
    manager = DeviceManager(config.devices, events, classify=flaky)
    device = manager.devices["s"]
    assert isinstance(device, ScannerDevice)
    emulator = device.emulator()
    assert isinstance(emulator, ScannerEmulator)
    with events.subscribe() as sub:
        manager.start()
        try:
            async with asyncio.timeout(10):
                await _next(sub, "device.status", "ready")
                with caplog.at_level(logging.DEBUG):
                    emulator.scan("M-SECRET-1", Symbology.CODE128)
                    await _next(sub, "device.status", "disconnected")
                    await _next(sub, "device.status", "ready")  # reopened after backoff
                    emulator.scan("M42", Symbology.CODE128)
                    data = await _next(sub, "scan")
        finally:
            await manager.aclose()
    assert data["data"] == "M42" and data["lane"] == "till-9"
    assert data["classification"]["search_value"] == "42"  # type: ignore[index]
    assert "RuntimeError" in caplog.text and "SECRET" not in caplog.text
