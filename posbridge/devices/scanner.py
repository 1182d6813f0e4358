"""A barcode scanner as the daemon sees it: a link kept up, every scan classified and
published as a ``scan`` event.

Which driver reads the scanner follows from its URL: ``evdev:///dev/input/...`` is a
keyboard wedge (grabbed, decoded with the configured layout), ``hidraw:///dev/hidrawN``
a USB HID POS scanner, and any transport URL (``serial://``, ``tcp://``,
``emu://scanner/NAME``) a scanner that sends its scans as a byte stream. An unplugged
scanner is reopened with backoff.

Personal data (ID documents, contacts) is published as a sensitive event (it leaves the
replay ring after a minute) and never logged: the debug log shows such scans redacted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from drivers.emulation import Emulator, EmulatorHub
from drivers.errors import DeviceError
from drivers.scanner.framing import Framing, Terminator
from drivers.scanner.reader import ScanReader
from drivers.scanner.scan import Scan
from drivers.transports import open_transport
from drivers.url import DeviceURL
from posbridge.config import DeviceConfig, DeviceKind
from posbridge.devices.base import DeviceState, _Backoff, emulator_name
from posbridge.events import EventBus
from posbridge.scanning.result import Classification

__all__ = ["Classifier", "ScannerDevice"]

log = logging.getLogger(__name__)

Classifier = Callable[[Scan], Classification]
"""Classifies a scan under the customer-profile rules in force now."""


class ScannerDevice:
    kind = DeviceKind.SCANNER

    def __init__(
        self,
        config: DeviceConfig,
        events: EventBus,
        emulators: EmulatorHub,
        classify: Classifier,
    ) -> None:
        self.config = config
        self.events = events
        self.emulators = emulators
        self.classify = classify
        self.options = config.scanner_options()
        self.state = DeviceState.CONNECTING
        self.last_error: str | None = None
        self.scans = 0
        self.last_scan_at: datetime | None = None
        self.lock = asyncio.Lock()  # the same shape as the printers; scanners only read
        self._reader: ScanReader | None = None
        self._backoff = _Backoff()
        self.url = DeviceURL.parse(config.url)
        if self.url.scheme == "emu":
            self.emulators.get_or_create(self.url.host, emulator_name(self.url), self.url.options)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def lane(self) -> str | None:
        return self.config.lane

    def emulator(self) -> Emulator | None:
        if self.url.scheme != "emu":
            return None
        return self.emulators.get(emulator_name(self.url))

    def capabilities(self) -> dict[str, object]:
        options = self.options
        return {
            "lane": self.lane,
            "input": {"evdev": "keyboard_wedge", "hidraw": "hid_pos"}.get(
                self.url.scheme, "stream"
            ),
            "suffix": options.suffix,
            "aim": options.aim,
            "layout": options.layout,
            "gap_ms": options.gap_ms,
        }

    def to_public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.config.name or self.id,
            "url": self.config.url,
            "emulated": self.url.scheme == "emu",
            "state": self.state.value,
            "status": {
                "scans": self.scans,
                "last_scan_at": None
                if self.last_scan_at is None
                else self.last_scan_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "blocking_reason": None if self.state is DeviceState.READY else "disconnected",
                "warnings": [],
            },
            "last_error": self.last_error,
            "capabilities": self.capabilities(),
        }

    def _set(self, state: DeviceState, error: str | None) -> None:
        if (self.state, self.last_error) != (state, error):
            self.state, self.last_error = state, error
            self.events.publish("device.status", self.id, self.to_public())

    async def _open(self) -> ScanReader:
        options = self.options
        gap_s = options.gap_ms / 1000
        if self.url.scheme == "evdev":
            from drivers.scanner.wedge import Terminator as Key
            from drivers.scanner.wedge import WedgeScanner

            # A wedge types Enter for CR/LF; a pause still ends a scan without one.
            key = Key.TAB if options.suffix == "tab" else Key.ENTER
            return await WedgeScanner.open(
                self.url.path, layout=options.layout, gap_s=gap_s, terminator=key
            )
        if self.url.scheme == "hidraw":
            from drivers.scanner.hidpos import HidPosScanner

            return await HidPosScanner.open(self.url.path)
        from drivers.scanner.serial_scanner import SerialScanner

        framing = Framing(
            suffix=Terminator(options.suffix),
            prefix=options.prefix.encode(),
            aim=options.aim,
            gap_s=gap_s,
        )
        transport = await open_transport(self.url, emulators=self.emulators)
        return SerialScanner(transport, framing)

    async def monitor(self) -> None:
        """Read scans for as long as the daemon runs; reopen the scanner when it goes."""
        while True:
            wait = self._backoff.remaining()
            if wait:
                await asyncio.sleep(wait)
            try:
                self._reader = await self._open()
            except DeviceError as exc:
                self._backoff.failed()
                self._set(DeviceState.DISCONNECTED, str(exc))
                continue
            self._backoff.succeeded()
            self._set(DeviceState.READY, None)
            try:
                while True:
                    self._publish(await self._reader.read_scan())
            except DeviceError as exc:
                self._backoff.failed()
                self._set(DeviceState.DISCONNECTED, str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug must not stop this till's scans
                # Only the type: the message of an error about a scan may hold its data.
                log.error("reading %s failed (%s); reopening it", self.id, type(exc).__name__)
                self._backoff.failed()
                self._set(DeviceState.DISCONNECTED, f"internal error ({type(exc).__name__})")
            finally:
                reader, self._reader = self._reader, None
                if reader is not None:
                    await _close_quietly(reader)

    def publish_scan(self, scan: Scan) -> None:
        """Classify and publish one scan (also used for scans posted by the camera)."""
        self._publish(scan)

    def _publish(self, scan: Scan) -> None:
        result = self.classify(scan)
        self.scans += 1
        self.last_scan_at = datetime.now(UTC)
        if log.isEnabledFor(logging.DEBUG):
            shown = "<redacted>" if result.personal else repr(scan.data)
            log.debug("scan on %s: %s %s -> %s", self.id, scan.symbology, shown, result.kind)
        self.events.publish(
            "scan",
            self.id,
            {
                "lane": self.lane,
                "symbology": scan.symbology.value,
                "code_type": scan.code_type,
                "aim": scan.aim,
                "source": scan.source,
                "data": scan.data,
                "classification": result.to_public(),
            },
            sensitive=result.personal,
        )

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await _close_quietly(reader)


async def _close_quietly(reader: ScanReader) -> None:
    try:
        await reader.aclose()
    except (DeviceError, OSError) as exc:
        log.debug("closing a scanner failed: %s", exc)
