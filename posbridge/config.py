"""Configuration: one TOML file, validated once into typed objects at start.

Unknown keys are errors that name their path (``devices[0].colour``); bad device URLs and
duplicate device ids are rejected with one clear message, so a technician sees every
problem of a config file before the daemon touches any hardware. Without a file the
daemon runs the built-in demo configuration, in which every device is an emulator.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drivers.errors import DeviceError
from drivers.url import DeviceURL
from drivers.zpl.media import Media, MediaTracking

__all__ = [
    "Config",
    "ConfigError",
    "DeviceConfig",
    "CustomerProfileSettings",
    "DeviceKind",
    "HangTagsConfig",
    "MediaConfig",
    "ScannerOptions",
    "JobsConfig",
    "ServerConfig",
    "demo_config",
    "load_config",
]

DEFAULT_PORT = 8765


class ConfigError(Exception):
    """The configuration cannot be used; the message lists every problem found."""


class DeviceKind(enum.StrEnum):
    RECEIPT_PRINTER = "receipt_printer"
    LABEL_PRINTER = "label_printer"
    SCANNER = "scanner"
    FISCAL_CASHBOX = "fiscal_cashbox"


# The kinds this version drives; the others are part of the configuration language already.
SUPPORTED_KINDS = frozenset(
    {DeviceKind.RECEIPT_PRINTER, DeviceKind.LABEL_PRINTER, DeviceKind.SCANNER}
)
# Scanners that are input devices, not byte streams: keyboard wedges and HID POS.
INPUT_DEVICE_SCHEMES = frozenset({"evdev", "hidraw"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = DEFAULT_PORT
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"]
    )
    allowed_origins: list[str] = Field(default_factory=list)
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 2 * 1024 * 1024

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_exact(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin in ("*", "null") or "://" not in origin or origin.endswith("/"):
                raise ValueError(
                    f"{origin!r} is not an exact origin such as 'https://pos.example.com'"
                )
        return origins


class JobsConfig(_Strict):
    receipt_deadline_s: Annotated[float, Field(gt=0)] = 3600.0
    # A drawer that opens minutes after the sale is worse than one that does not open.
    drawer_deadline_s: Annotated[float, Field(gt=0)] = 30.0
    retention_hours: Annotated[float, Field(gt=0)] = 7 * 24.0
    max_wait_s: Annotated[float, Field(gt=0, le=300)] = 60.0
    # A markdown weekend's batch may wait for media for hours; it is still wanted.
    hang_tags_deadline_s: Annotated[float, Field(gt=0)] = 7 * 86400.0


class MediaConfig(_Strict):
    """The labels loaded in a label printer (see ``drivers.zpl.media.Media``)."""

    width_mm: Annotated[float, Field(ge=5, le=220)] = 50.8
    height_mm: Annotated[float, Field(ge=5, le=1000)] = 76.2
    dpi: Literal[203, 300] = 203
    tracking: Literal["gap", "mark", "continuous"] = "gap"
    darkness: Annotated[int | None, Field(ge=0, le=30)] = None
    speed_ips: Annotated[int | None, Field(ge=2, le=12)] = None

    def media(self) -> Media:
        return Media(
            width_mm=self.width_mm,
            height_mm=self.height_mm,
            dpi=self.dpi,
            tracking=MediaTracking(self.tracking),
            darkness=self.darkness,
            speed_ips=self.speed_ips,
        )


class HangTagsConfig(_Strict):
    """Which prices a hang tag shows and how.

    ``pricebooks`` in the order the tag shows them; a bare name is a pricebook of
    ``default_catalog``. ``missing_price``: ``omit`` leaves a missing price off the tag,
    ``reject`` refuses the request naming the product and pricebook.
    """

    pricebooks: Annotated[list[str], Field(min_length=1, max_length=8)] = Field(
        default_factory=lambda: ["regular", "sale"]
    )
    default_catalog: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "default"
    missing_price: Literal["omit", "reject"] = "omit"
    locale: str = "de_AT"
    template: str = "tag-2x3"
    templates_dir: Path | None = None
    max_tags: Annotated[int, Field(ge=1, le=100_000)] = 20_000

    @field_validator("pricebooks")
    @classmethod
    def _refs_are_valid(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            if not re.fullmatch(r"([A-Za-z0-9_-]{1,64}\.)?[A-Za-z0-9_-]{1,64}", ref):
                raise ValueError(f"{ref!r} is not a pricebook reference like 'catalog.pricebook'")
        return refs

    @field_validator("locale")
    @classmethod
    def _locale_is_known(cls, locale: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(locale.replace("-", "_"))
        except (ValueError, UnknownLocaleError) as exc:
            raise ValueError(f"unknown locale {locale!r}") from exc
        return locale


class ScannerOptions(_Strict):
    """How a scanner frames its scans (serial) or types them (keyboard wedge)."""

    suffix: Literal["cr", "lf", "crlf", "tab", "none"] = "cr"
    prefix: Annotated[str, Field(max_length=8)] = ""
    aim: bool = True  # the scanner sends AIM symbology identifiers (]E0 ...)
    gap_ms: Annotated[int, Field(ge=5, le=2000)] = 50  # a pause this long ends a scan too
    layout: Literal["us", "de", "fr", "uk"] = "us"  # keyboard wedges: the scanner's layout


class CustomerProfileSettings(_Strict):
    """The associate app's customer-profile settings, with the retail platform's own keys,
    so a store's existing settings carry over verbatim."""

    customer_profile_scanner_identifiers: list[dict[str, Any]] = Field(default_factory=list)
    customer_profile_auto_populate_fields: list[dict[str, Any]] = Field(default_factory=list)
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "AT"

    @model_validator(mode="after")
    def _rules_compile(self) -> CustomerProfileSettings:
        from posbridge.scanning.rules import CustomerProfileConfig, ScanConfigError

        try:
            CustomerProfileConfig.from_platform(self.platform())
        except ScanConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def platform(self) -> dict[str, Any]:
        """The two lists as the retail platform serves them."""
        return {
            "customer_profile_scanner_identifiers": self.customer_profile_scanner_identifiers,
            "customer_profile_auto_populate_fields": self.customer_profile_auto_populate_fields,
        }


class DeviceConfig(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    kind: DeviceKind
    url: str
    profile: str = "TM-T88V"
    name: str | None = None
    # Drawers differ in whether pin 3 reads high when open (Epson's default) or closed.
    drawer_open_when_high: bool = True
    status_interval_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    # Let the printer push its status changes (ESC/POS automatic status back) when its
    # profile has them: no status round trip before each job. Off for clones that
    # claim an Epson profile but garble GS a.
    status_push: bool = True
    # Label printers only: the labels loaded.
    media: MediaConfig | None = None
    # Scanners only: framing, and the lane (till) whose iPad gets its scans.
    scanner: ScannerOptions | None = None
    lane: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")] = None

    @field_validator("kind")
    @classmethod
    def _kind_is_supported(cls, kind: DeviceKind) -> DeviceKind:
        if kind not in SUPPORTED_KINDS:
            supported = ", ".join(sorted(SUPPORTED_KINDS))
            raise ValueError(f"{kind.value} devices are not supported yet (supported: {supported})")
        return kind

    @field_validator("profile")
    @classmethod
    def _profile_is_known(cls, profile: str) -> str:
        from drivers.escpos.profiles import load_profile

        try:
            load_profile(profile)
        except DeviceError as exc:
            raise ValueError(str(exc)) from exc
        return profile

    @model_validator(mode="after")
    def _options_fit_kind(self) -> DeviceConfig:
        if self.media is not None and self.kind is not DeviceKind.LABEL_PRINTER:
            raise ValueError("media is only for label printers")
        if self.kind is not DeviceKind.SCANNER and (
            self.scanner is not None or self.lane is not None
        ):
            raise ValueError("scanner options and lane are only for scanners")
        return self

    @field_validator("url")
    @classmethod
    def _url_is_usable(cls, url: str) -> str:
        from drivers.transports import transport_for

        try:
            parsed = DeviceURL.parse(url)
            if parsed.scheme in INPUT_DEVICE_SCHEMES:
                if not parsed.path.startswith("/dev/"):
                    scheme = parsed.scheme
                    raise ValueError(f"{scheme}:// wants a device path, e.g. {scheme}:///dev/...")
            else:
                transport_for(parsed)
        except DeviceError as exc:
            raise ValueError(str(exc)) from exc
        return url

    @model_validator(mode="after")
    def _input_devices_are_scanners(self) -> DeviceConfig:
        scheme = self.url.partition("://")[0]
        if scheme in INPUT_DEVICE_SCHEMES and self.kind is not DeviceKind.SCANNER:
            raise ValueError(f"{scheme}:// is for scanners only")
        return self

    def scanner_options(self) -> ScannerOptions:
        return self.scanner or ScannerOptions()

    def label_media(self) -> Media:
        """The media of a label printer (the default 2 x 3 in tags if none is set)."""
        return (self.media or MediaConfig()).media()



class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    hang_tags: HangTagsConfig = Field(default_factory=HangTagsConfig)
    customer_profile: CustomerProfileSettings = Field(default_factory=CustomerProfileSettings)
    templates_dir: Path | None = None
    devices: list[DeviceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Config:
        seen: set[str] = set()
        for index, device in enumerate(self.devices):
            if device.id in seen:
                raise ValueError(f"devices[{index}].id {device.id!r} is used twice")
            seen.add(device.id)
        return self

    def device(self, device_id: str) -> DeviceConfig | None:
        return next((d for d in self.devices if d.id == device_id), None)


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _explain(error: ValidationError, source: str) -> ConfigError:
    lines = []
    for item in error.errors():
        where = _path(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown key")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"  {where}: {message}")
    return ConfigError(f"{source} is not a valid posbridge configuration:\n" + "\n".join(lines))


def parse_config(data: dict[str, Any], source: str = "configuration") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data, str(path))


def demo_config() -> Config:
    """The built-in configuration: every device is an in-process emulator."""
    return parse_config(
        {
            "devices": [
                {
                    "id": "receipt-1",
                    "kind": "receipt_printer",
                    "name": "Emulated Epson TM-T88V",
                    "url": "emu://escpos/receipt-1?profile=TM-T88V",
                    "profile": "TM-T88V",
                    "status_interval_s": 1.0,
                },
                {
                    "id": "label-1",
                    "kind": "label_printer",
                    "name": "Emulated Zebra ZD421 (203 dpi, 2 x 3 in tags)",
                    "url": "emu://zpl/label-1?dpi=203",
                    "status_interval_s": 1.0,
                    "media": {"width_mm": 50.8, "height_mm": 76.2, "dpi": 203},
                },
                {
                    "id": "scanner-1",
                    "kind": "scanner",
                    "name": "Emulated barcode scanner (till 1)",
                    "url": "emu://scanner/scanner-1",
                    "lane": "till-1",
                },
            ]
        },
        "built-in demo configuration",
    )
