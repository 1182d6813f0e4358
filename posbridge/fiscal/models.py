"""The fiscal model, shaped like the retail platform's: offline mode, stores, cashboxes,
transaction requests and answers (pydantic v2, unknown keys are errors).

Money is ``Decimal`` and arrives as a JSON string (``"12.50"``) or integer (``12``).
JSON numbers with a fraction are refused: the HTTP layer parses them into binary
floats before we see them, and ``0.1 + 0.2`` is not a price. Every error names its
field.

Tax rates are keys like ``"20"`` or ``"special"``; which ones exist depends on the
country (``TAX_RATES``). Validate a request for a store's country with
``TransactionRequest.for_country(data, country)``; without a country the union of all
known rates is accepted.
"""

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from posbridge.fiscal.offline import (
    COUNTRY_RULES,
    CashboxState,
    Country,
    Strategy,
    validate_strategy,
)

__all__ = [
    "MARKER_TRAINING",
    "MARKER_UNIT_FAILED",
    "MARKER_VOID",
    "TAX_RATES",
    "AnswerState",
    "Cashbox",
    "CashboxState",
    "ClosureReport",
    "EpsonItCashbox",
    "EpsonItConfig",
    "FiscalStore",
    "Item",
    "OfflineCountry",
    "OfflineCountryPatch",
    "OfflineCountryView",
    "OfflineMode",
    "OfflineModePatch",
    "OfflineModeView",
    "Payment",
    "PaymentMethod",
    "RemoteSignatureUnit",
    "RksvCashbox",
    "RksvConfig",
    "SignatureFormat",
    "SignatureItem",
    "SoftwareSignatureUnit",
    "TransactionAnswer",
    "TransactionRequest",
    "TransactionType",
    "parse_cashbox",
]

MARKER_UNIT_FAILED = "Sicherheitseinrichtung ausgefallen"
MARKER_TRAINING = "Trainingsbuchung"
MARKER_VOID = "Storno"

CENT = Decimal("0.01")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- money --------------------------------------------------------------------------


def _decimal(value: object, *, places: int, what: str) -> Decimal:
    if isinstance(value, float):
        raise ValueError(
            f"give {what} as a string like \"12.50\", not a JSON number with a fraction "
            "(binary floats lose cents)"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"{what} must be a string like \"12.50\"")
    if not re.fullmatch(rf"-?(0|[1-9][0-9]{{0,11}})(\.[0-9]{{1,{places}}})?", text):
        raise ValueError(
            f"{text!r} is not {what} with at most {places} decimal places (like \"12.50\")"
        )
    return Decimal(text)


def _money(value: object) -> Decimal:
    return _decimal(value, places=2, what="an amount")


def _quantity(value: object) -> Decimal:
    return _decimal(value, places=3, what="a quantity")


Money = Annotated[Decimal, BeforeValidator(_money)]
"""An exact amount: a string with up to 2 decimals, or an integer."""
Quantity = Annotated[Decimal, BeforeValidator(_quantity)]


# --- tax rates -----------------------------------------------------------------------

TAX_RATES: dict[Country, frozenset[str]] = {
    # The AT rate for Jungholz and Mittelberg (besonderer Steuersatz, 19 %): "19", or
    # "special" as the platform names it.
    Country.AT: frozenset({"20", "10", "13", "0", "19", "special"}),
    Country.IT: frozenset({"22", "10", "5", "4", "0"}),
    Country.DE: frozenset({"19", "7", "0"}),
    Country.HR: frozenset({"25", "13", "5", "0"}),
    Country.SI: frozenset({"22", "9.5", "5", "0"}),
}
_ALL_RATES = frozenset().union(*TAX_RATES.values())


def _known_rates(info: ValidationInfo) -> tuple[frozenset[str], str]:
    context = info.context if isinstance(info.context, Mapping) else {}
    country = context.get("country")
    if country is None:
        return _ALL_RATES, "any supported country"
    c = Country(country)
    return TAX_RATES[c], c.value


def _check_rate(rate: str, info: ValidationInfo) -> None:
    known, where = _known_rates(info)
    if rate not in known:
        raise ValueError(
            f"unknown tax rate {rate!r} for {where}; known: {', '.join(sorted(known))}"
        )


# --- offline mode --------------------------------------------------------------------


class OfflineCountry(_Model):
    """One country's offline-mode setting."""

    enabled: bool
    strategy: Strategy


class OfflineMode(_Model):
    """``{"offline_countries": {"AT": {"enabled": true, "strategy": "standard-signing"}}}``.

    A strategy the country does not allow is an error naming both (see
    ``posbridge.fiscal.offline`` for the table).
    """

    offline_countries: dict[Country, OfflineCountry] = Field(default_factory=dict)

    @field_validator("offline_countries")
    @classmethod
    def _allowed(cls, value: dict[Country, OfflineCountry]) -> dict[Country, OfflineCountry]:
        for country, setting in value.items():
            validate_strategy(country, setting.strategy)
        return value

    def setting(self, country: Country | str) -> OfflineCountry:
        """The country's setting, or its default (enabled, default strategy)."""
        c = Country(country)
        found = self.offline_countries.get(c)
        return found or OfflineCountry(enabled=True, strategy=COUNTRY_RULES[c].default)

    def patched(self, patch: OfflineModePatch) -> OfflineMode:
        """A new setting with ``patch`` applied; validated like any other."""
        merged = {c.value: s.model_dump(mode="json") for c, s in self.offline_countries.items()}
        for country, change in patch.offline_countries.items():
            base = merged.get(country.value) or self.setting(country).model_dump(mode="json")
            merged[country.value] = {**base, **change.model_dump(mode="json", exclude_none=True)}
        return OfflineMode.model_validate({"offline_countries": merged})


class OfflineCountryPatch(_Model):
    enabled: bool | None = None
    strategy: Strategy | None = None


class OfflineModePatch(_Model):
    """A PATCH body: only the fields given change."""

    offline_countries: dict[Country, OfflineCountryPatch]


class OfflineCountryView(_Model):
    enabled: bool
    strategy: Strategy
    editable: bool
    allowed_strategies: list[Strategy]


class OfflineModeView(_Model):
    """What ``GET`` shows: every supported country, configured or default."""

    offline_countries: dict[Country, OfflineCountryView]

    @classmethod
    def of(cls, mode: OfflineMode) -> OfflineModeView:
        views: dict[Country, OfflineCountryView] = {}
        for country, rules in COUNTRY_RULES.items():
            setting = mode.setting(country)
            views[country] = OfflineCountryView(
                enabled=setting.enabled,
                strategy=setting.strategy,
                editable=rules.editable,
                allowed_strategies=list(rules.allowed),
            )
        return cls(offline_countries=views)


# --- stores and cashboxes ------------------------------------------------------------

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class ClosureReport(enum.StrEnum):
    DAILY_Z = "daily-z"
    MONTHLY_ZERO = "monthly-zero"
    YEARLY_ZERO = "yearly-zero"


# What the law asks for unless the store says otherwise: AT Monatsbeleg and Jahresbeleg
# (RKSV), the IT daily closure (chiusura giornaliera), a daily closing elsewhere.
_DEFAULT_CLOSURES: dict[Country, tuple[ClosureReport, ...]] = {
    Country.AT: (ClosureReport.MONTHLY_ZERO, ClosureReport.YEARLY_ZERO),
    Country.IT: (ClosureReport.DAILY_Z,),
}

ExemptionCode = Literal["N1", "N2", "N3", "N4", "N5", "N6"]


class FiscalStore(_Model):
    """A store as the tax office knows it."""

    id: Identifier
    country: Country
    timezone: str
    automatic_closure_reports: list[ClosureReport] | None = None
    """``None``: the country's default (see ``closure_reports``)."""
    exemption_codes: dict[Annotated[str, Field(min_length=1, max_length=64)], ExemptionCode] = (
        Field(default_factory=dict)
    )
    """IT only: the platform's tax exemption classes -> natura codes; unmapped -> N3."""

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (like 'Europe/Vienna')") from exc
        return value

    @field_validator("automatic_closure_reports")
    @classmethod
    def _unique(cls, value: list[ClosureReport] | None) -> list[ClosureReport] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each closure report may be listed once")
        return value

    @model_validator(mode="after")
    def _exemptions_only_in_italy(self) -> FiscalStore:
        if self.exemption_codes and self.country is not Country.IT:
            raise ValueError(
                f"exemption_codes are for IT stores only; this store is in {self.country.value}"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def closure_reports(self) -> tuple[ClosureReport, ...]:
        if self.automatic_closure_reports is not None:
            return tuple(self.automatic_closure_reports)
        return _DEFAULT_CLOSURES.get(self.country, (ClosureReport.DAILY_Z,))

    def exemption_code(self, exemption_class: str | None) -> ExemptionCode:
        """The natura code for a tax exemption class; unmapped (or none) -> ``N3``."""
        if exemption_class is None:
            return "N3"
        return self.exemption_codes.get(exemption_class, "N3")


class SoftwareSignatureUnit(_Model):
    """A key held by posbridge (closed systems, AT0; and the emulator's unit)."""

    type: Literal["software"]
    id: Identifier = "u0"
    emulated: bool = False
    """Lets ``POST .../signature-units/{id}/faults`` damage it: for tests and the demo."""


class RemoteSignatureUnit(_Model):
    """A signature service (HSM, card server) reached over HTTP."""

    type: Literal["remote"]
    id: Identifier = "u0"
    url: AnyHttpUrl
    token: SecretStr

    @field_validator("url")
    @classmethod
    def _https_off_host(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        # Signatures cross the network: plain http only to the same machine.
        if url.scheme != "https" and url.host not in ("localhost", "127.0.0.1", "[::1]", "::1"):
            raise ValueError("a remote signature unit needs https (http only on localhost)")
        return url


SignatureUnit = Annotated[
    SoftwareSignatureUnit | RemoteSignatureUnit, Field(discriminator="type")
]


class RksvConfig(_Model):
    """Austrian RKSV: Kassen-ID, certificate provider (ZDA) id, AES key, signature unit."""

    # "_" separates the fields of the machine-readable code, so it cannot be in the id.
    cashbox_id: Annotated[str, Field(pattern=r"^[!-\x5E\x60-\x7E]{1,64}$")]
    provider: Annotated[str, Field(pattern=r"^AT[0-9]{1,2}$")]
    """The ZDA id printed in the code: AT0 (no certificate provider), AT1, AT2, ..."""
    aes_key: SecretStr
    """Base64 of the 32-byte AES-256 key that encrypts the turnover counter."""
    company_id: Annotated[str, Field(pattern=r"^U:ATU[0-9]{8}$")] = "U:ATU00000000"
    """Closed systems (AT0) name their keys ``<company_id>-K<n>``."""
    signature_unit: SignatureUnit | None = None
    signature_units: list[SignatureUnit] | None = None
    """All the units the cashbox may use over its life (a replaced card, a spare)."""

    @model_validator(mode="after")
    def _one_way_to_name_units(self) -> RksvConfig:
        if (self.signature_unit is None) == (self.signature_units is None):
            raise ValueError("give either signature_unit or signature_units")
        ids = [unit.id for unit in self.units]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError("signature_units need distinct ids, at least one")
        return self

    @property
    def units(self) -> list[SoftwareSignatureUnit | RemoteSignatureUnit]:
        if self.signature_units is not None:
            return list(self.signature_units)
        assert self.signature_unit is not None
        return [self.signature_unit]

    @field_validator("aes_key")
    @classmethod
    def _key_is_aes256(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("aes_key must be base64") from exc
        if len(raw) != 32:
            raise ValueError(f"aes_key must be 32 bytes (AES-256), got {len(raw)}")
        return value

    def aes_key_bytes(self) -> bytes:
        return base64.b64decode(self.aes_key.get_secret_value())


class EpsonItConfig(_Model):
    """An Epson RT printer (fpMate web service)."""

    hostname: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 80
    printer_model: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")]
    serial: Annotated[str, Field(pattern=r"^[A-Z0-9]{6,16}$")] | None = None
    """The printer's fiscal serial (matricola, e.g. 99MEY012345): voids and returns name
    their original document by it."""

    @field_validator("hostname")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        if not re.fullmatch(rf"{label}(\.{label})*\.?", value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value


class _CashboxBase(_Model):
    id: Identifier
    store_id: Identifier
    state: CashboxState = CashboxState.PROVISIONED
    warning_codes: list[Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,64}$")]] = Field(
        default_factory=list
    )
    transaction_series: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = "1"


class RksvCashbox(_CashboxBase):
    fiscal_provider_id: Literal["rksv-at"]
    provider_config: RksvConfig


class EpsonItCashbox(_CashboxBase):
    fiscal_provider_id: Literal["epson-it"]
    provider_config: EpsonItConfig


Cashbox = Annotated[RksvCashbox | EpsonItCashbox, Field(discriminator="fiscal_provider_id")]
"""A cashbox; ``fiscal_provider_id`` picks the shape of ``provider_config``."""

_CASHBOX: TypeAdapter[RksvCashbox | EpsonItCashbox] = TypeAdapter(Cashbox)


def parse_cashbox(data: object) -> RksvCashbox | EpsonItCashbox:
    """Validate a cashbox (raises ``pydantic.ValidationError`` naming the field)."""
    return _CASHBOX.validate_python(data)


# --- transactions --------------------------------------------------------------------


class TransactionType(enum.StrEnum):
    SALE = "sale"
    RETURN = "return"
    VOID = "void"
    TRAINING = "training"
    ZERO = "zero"
    START = "start"


class PaymentMethod(enum.StrEnum):
    CASH = "cash"
    CARD = "card"
    VOUCHER = "voucher"
    TRANSFER = "transfer"
    OTHER = "other"


def _reference(value: object) -> object:
    if isinstance(value, str) and not (value.isprintable() and not any(c.isspace() for c in value)):
        raise ValueError("must be visible characters only (no spaces or control characters)")
    return value


Reference = Annotated[str, Field(min_length=1, max_length=64), BeforeValidator(_reference)]


def _text_moment(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("give moment as an ISO 8601 string with offset, like "
                         "'2025-03-01T12:00:00+01:00'")
    return value


class Item(_Model):
    description: Annotated[str, Field(min_length=1, max_length=255)]
    quantity: Quantity
    unit_price: Money
    tax_rate: str
    exemption_class: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @field_validator("tax_rate")
    @classmethod
    def _rate(cls, value: str, info: ValidationInfo) -> str:
        _check_rate(value, info)
        return value

    @field_validator("quantity")
    @classmethod
    def _nonzero(cls, value: Decimal) -> Decimal:
        if value == 0:
            raise ValueError("quantity must not be 0")
        return value

    @property
    def total(self) -> Decimal:
        """quantity x unit price, rounded half up to the cent."""
        return (self.quantity * self.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


class Payment(_Model):
    method: PaymentMethod
    amount: Money


class TransactionRequest(_Model):
    """A transaction to sign: amounts per tax rate or items (or both, if they agree)."""

    receipt_reference: Reference
    type: TransactionType
    moment: Annotated[AwareDatetime, BeforeValidator(_text_moment)]
    amounts: dict[str, Money] | None = None
    items: list[Item] | None = None
    payments: list[Payment] = Field(default_factory=list)
    original: Reference | None = None
    """The ``receipt_reference`` of the receipt this one voids (or returns from)."""

    @classmethod
    def for_country(cls, data: Any, country: Country | str) -> TransactionRequest:
        """Validate ``data`` with the tax rates of ``country``."""
        return cls.model_validate(data, context={"country": Country(country)})

    @field_validator("amounts")
    @classmethod
    def _rates(cls, value: dict[str, Decimal] | None, info: ValidationInfo) -> Any:
        for rate in value or {}:
            _check_rate(rate, info)
        return value

    @property
    def tax_amounts(self) -> dict[str, Decimal]:
        """Gross amount per tax rate (from ``amounts``, else summed from ``items``)."""
        if self.amounts is not None:
            return dict(self.amounts)
        return _sum_items(self.items or [])

    @property
    def total(self) -> Decimal:
        return sum(self.tax_amounts.values(), Decimal(0))

    @model_validator(mode="after")
    def _consistent(self) -> TransactionRequest:
        t = self.type
        # A void may name only its original: the whole document is voided.
        voids_whole = t is TransactionType.VOID and self.original is not None
        if (
            self.amounts is None
            and self.items is None
            and t not in _EMPTY_TYPES
            and not voids_whole
        ):
            raise ValueError(f"a {t.value} needs amounts or items")
        if self.amounts is not None and self.items is not None:
            from_items = _sum_items(self.items)
            for rate in sorted(set(from_items) | set(self.amounts)):
                a, i = self.amounts.get(rate, Decimal(0)), from_items.get(rate, Decimal(0))
                if a != i:
                    raise ValueError(
                        f"amounts.{rate} is {a} but the items at rate {rate} add up to {i}"
                    )
        amounts = self.tax_amounts
        if t in _EMPTY_TYPES:
            for rate, amount in amounts.items():
                if amount != 0:
                    raise ValueError(f"amounts.{rate}: a {t.value} receipt carries no amounts")
        # One receipt may both sell and take back (an exchange: +49.90 at 20 %, -12.00 at
        # 13 %), so single rates may go either way; the whole receipt may not.
        total = sum(amounts.values(), Decimal(0))
        if t is TransactionType.SALE and total < 0:
            raise ValueError(
                f"amounts: a sale cannot have a negative total ({total}); send a return"
            )
        if t is TransactionType.RETURN and total > 0:
            raise ValueError(f"amounts: a return cannot have a positive total ({total})")
        if self.payments:
            paid = sum((p.amount for p in self.payments), Decimal(0))
            if paid != self.total:
                raise ValueError(f"payments add up to {paid} but the total is {self.total}")
        if t is TransactionType.VOID and self.original is None:
            raise ValueError("original: a void must name the receipt_reference it voids")
        if self.original is not None:
            if t not in (TransactionType.VOID, TransactionType.RETURN):
                raise ValueError(f"original: only a void or a return refers to another receipt, "
                                 f"not a {t.value}")
            if self.original == self.receipt_reference:
                raise ValueError("original: a receipt cannot refer to itself")
        return self


_EMPTY_TYPES = frozenset({TransactionType.ZERO, TransactionType.START})


def _sum_items(items: list[Item]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item.tax_rate] = totals.get(item.tax_rate, Decimal(0)) + item.total
    return totals


class AnswerState(enum.StrEnum):
    OK = "OK"
    TEMP_SIGNED = "TEMP_SIGNED"
    FAILED = "FAILED"


class SignatureFormat(enum.StrEnum):
    TEXT = "TEXT"
    QR_CODE = "QR_CODE"
    CODE128 = "CODE128"
    PDF417 = "PDF417"


class SignatureItem(_Model):
    """Something the receipt must print: a caption and data in a format."""

    caption: str
    format: SignatureFormat
    data: str


class TransactionAnswer(_Model):
    """What a signed (or temporarily signed, or failed) transaction gives back."""

    state: AnswerState
    number: int | None = None
    series: str | None = None
    signature: str | None = None
    signature_items: list[SignatureItem] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)
    """Legally required texts, e.g. "Sicherheitseinrichtung ausgefallen", "Storno"."""
