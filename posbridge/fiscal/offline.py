"""What a cashbox does with a transaction when its signing device or service is down.

Pure decision logic, no I/O: ``decide`` takes the store's country, the country's
offline-mode setting, whether the signer answers and the cashbox's state, and says
what to do. ``validate_strategy`` guards a PATCH of the setting.

Strategies and what each country's law allows (the first one is the default):

======= ============================ ===================================================
country allowed strategies           why
======= ============================ ===================================================
AT      standard-signing,        RKSV: a register whose signature unit fails keeps
        late-signing                 working; every receipt is still chained into the
                                     DEP and carries "Sicherheitseinrichtung
                                     ausgefallen" in place of the signature (the
                                     default). The retail platform also offers late
                                     signing: TEMP_SIGNED now, signed in the original
                                     order with the original times once the unit is
                                     back; a tenant choosing it takes that on.
IT      manual-receipts, no-signing  RT (Registratore Telematico): the printer itself
                                     registers the sale; while it is out of order the
                                     merchant issues manual receipts and keeps the
                                     emergency register ("registro di emergenza", may
                                     be electronic), transmitting the day's totals
                                     later. ``no-signing`` journals each sale unsigned
                                     and marked, as that electronic register.
DE      no-signing                   KassenSichV: when the TSE fails the sale goes on;
                                     the receipt shows the failure (no TSE data) and
                                     the failure is documented; no late signing.
HR      late-signing                 Fiskalizacija: without a link to the tax
                                     authority the receipt is issued with its local
                                     protection code (ZKI) and delivered later (within
                                     48 h) with its original time, in order.
SI      late-signing                 Davčno potrjevanje: as in Croatia (EOR obtained
                                     later, within 48 h).
======= ============================ ===================================================

``enabled: false`` is always allowed: the cashbox then refuses sales while it cannot
sign (``BLOCK``), which every law permits (no sale, no receipt). A setting is
``editable`` when more than one strategy is allowed; ``enabled`` can always be changed.

While a late-signing cashbox is ``offline`` or ``recovering`` new transactions queue
behind the backlog even if the signer already answers again: signatures must be made
in the original order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "COUNTRY_RULES",
    "MARKER_UNIT_FAILED",
    "MARKER_UNSIGNED",
    "Action",
    "CashboxState",
    "Country",
    "CountryRules",
    "Decision",
    "OfflineSetting",
    "StrategyNotAllowed",
    "Strategy",
    "decide",
    "validate_strategy",
]


class Country(enum.StrEnum):
    """Countries whose fiscal rules posbridge knows (ISO 3166-1 alpha-2)."""

    AT = "AT"
    IT = "IT"
    DE = "DE"
    HR = "HR"
    SI = "SI"


class Strategy(enum.StrEnum):
    """What to do while the signer is unavailable (the retail platform's names)."""

    STANDARD_SIGNING = "standard-signing"
    LATE_SIGNING = "late-signing"
    MANUAL_RECEIPTS = "manual-receipts"
    NO_SIGNING = "no-signing"


class CashboxState(enum.StrEnum):
    """A fiscal cashbox's life cycle.

    ``provisioned`` (configured, never activated) -> ``activated`` -> ``online`` /
    ``offline`` / ``recovering`` (a late-signing backlog is being signed) ->
    ``deactivated``; ``blocked`` means a human must act (e.g. the device refuses).
    """

    PROVISIONED = "provisioned"
    ACTIVATED = "activated"
    ONLINE = "online"
    OFFLINE = "offline"
    RECOVERING = "recovering"
    BLOCKED = "blocked"
    DEACTIVATED = "deactivated"


class Action(enum.StrEnum):
    """The outcome of ``decide``."""

    SIGN = "sign"
    """Sign now."""
    SIGN_WITH_FAILURE_MARKER = "sign_with_failure_marker"
    """AT: chain the receipt with the failure marker in place of the signature."""
    TEMP_SIGN = "temp_sign"
    """Answer ``TEMP_SIGNED``; queue for signing in original order with original times."""
    REFUSE_MANUAL = "refuse_manual"
    """Refuse; the app hands out a manual receipt."""
    RECORD_UNSIGNED = "record_unsigned"
    """Journal the transaction unsigned, clearly marked."""
    BLOCK = "block"
    """Refuse: the cashbox cannot take transactions now."""


# Legally required texts on the receipt.
MARKER_UNIT_FAILED = "Sicherheitseinrichtung ausgefallen"
MARKER_UNSIGNED = "unsigned: signing device unavailable"
_UNSIGNED_MARKERS: dict[Country, str] = {
    Country.DE: "TSE ausgefallen",
    Country.IT: "DOCUMENTO NON FISCALE",
}


@dataclass(frozen=True, slots=True)
class CountryRules:
    """One row of the table in the module docstring."""

    allowed: tuple[Strategy, ...]

    @property
    def default(self) -> Strategy:
        return self.allowed[0]

    @property
    def editable(self) -> bool:
        return len(self.allowed) > 1


COUNTRY_RULES: dict[Country, CountryRules] = {
    # AT: the RKSV's own way is to chain receipts with the failure marker; the retail
    # platform also offers late signing (TEMP_SIGNED now, signed in order later).
    Country.AT: CountryRules((Strategy.STANDARD_SIGNING, Strategy.LATE_SIGNING)),
    Country.IT: CountryRules((Strategy.MANUAL_RECEIPTS, Strategy.NO_SIGNING)),
    Country.DE: CountryRules((Strategy.NO_SIGNING,)),
    Country.HR: CountryRules((Strategy.LATE_SIGNING,)),
    Country.SI: CountryRules((Strategy.LATE_SIGNING,)),
}
assert set(COUNTRY_RULES) == set(Country)


class OfflineSetting(Protocol):
    """A country's offline-mode setting (``models.OfflineCountry`` is one)."""

    @property
    def enabled(self) -> bool: ...

    @property
    def strategy(self) -> Strategy: ...


class StrategyNotAllowed(ValueError):
    """A strategy that the country's law does not allow."""

    code = "fiscal_strategy_not_allowed"

    def __init__(self, country: Country, strategy: Strategy) -> None:
        allowed = ", ".join(s.value for s in COUNTRY_RULES[country].allowed)
        super().__init__(
            f"offline strategy {strategy.value!r} is not allowed in {country.value}; "
            f"allowed: {allowed}"
        )
        self.country = country
        self.strategy = strategy


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one transaction, why, and what the receipt must say."""

    action: Action
    reason: str
    markers: tuple[str, ...] = ()
    code: str | None = None
    """For ``REFUSE_MANUAL`` and ``BLOCK``: a stable error code for the API."""

    @property
    def refused(self) -> bool:
        return self.action in (Action.REFUSE_MANUAL, Action.BLOCK)


def validate_strategy(country: Country | str, strategy: Strategy | str) -> Strategy:
    """The strategy, if ``country`` allows it; else ``StrategyNotAllowed`` naming both.

    Unknown names raise ``ValueError`` naming the value.
    """
    c = _country(country)
    try:
        s = Strategy(strategy)
    except ValueError:
        names = ", ".join(x.value for x in Strategy)
        raise ValueError(f"unknown offline strategy {strategy!r}; known: {names}") from None
    if s not in COUNTRY_RULES[c].allowed:
        raise StrategyNotAllowed(c, s)
    return s


_INACTIVE = {
    CashboxState.PROVISIONED: "the cashbox is not activated yet",
    CashboxState.DEACTIVATED: "the cashbox is deactivated",
    CashboxState.BLOCKED: "the cashbox is blocked until a technician clears it",
}


def decide(
    country: Country | str,
    setting: OfflineSetting | None,
    signer_available: bool,
    cashbox_state: CashboxState | str,
) -> Decision:
    """Decide what to do with a transaction.

    ``setting`` is the country's offline-mode setting; ``None`` means "not configured"
    and takes the country's default strategy, enabled. A setting whose strategy the
    country does not allow raises ``StrategyNotAllowed`` (it should never have been
    stored).
    """
    c = _country(country)
    state = CashboxState(cashbox_state)
    if state in _INACTIVE:
        return Decision(Action.BLOCK, _INACTIVE[state], code="fiscal_cashbox_not_operational")
    rules = COUNTRY_RULES[c]
    enabled = True if setting is None else setting.enabled
    strategy = rules.default if setting is None else validate_strategy(c, setting.strategy)
    # A late-signing backlog must be signed before anything newer.
    backlog = strategy is Strategy.LATE_SIGNING and state in (
        CashboxState.OFFLINE,
        CashboxState.RECOVERING,
    )
    if backlog and not enabled:
        return Decision(
            Action.BLOCK,
            "earlier transactions are still waiting to be signed and offline mode is "
            f"disabled for {c.value}",
            code="fiscal_offline_disabled",
        )
    if signer_available and not backlog:
        return Decision(Action.SIGN, "the signer is available")
    if not enabled:
        return Decision(
            Action.BLOCK,
            f"the signing device is unavailable and offline mode is disabled for {c.value}",
            code="fiscal_offline_disabled",
        )
    return _offline(c, strategy, signer_available)


def _offline(country: Country, strategy: Strategy, signer_available: bool) -> Decision:
    if strategy is Strategy.STANDARD_SIGNING:
        return Decision(
            Action.SIGN_WITH_FAILURE_MARKER,
            "the signature unit is unavailable; the receipt is chained with the failure marker",
            (MARKER_UNIT_FAILED,),
        )
    if strategy is Strategy.LATE_SIGNING:
        why = (
            "earlier transactions are still waiting to be signed"
            if signer_available
            else "the signing service is unavailable"
        )
        return Decision(Action.TEMP_SIGN, f"{why}; signed later in original order")
    if strategy is Strategy.MANUAL_RECEIPTS:
        return Decision(
            Action.REFUSE_MANUAL,
            "the fiscal device is unavailable: hand out a manual receipt and record the sale "
            "in the emergency register",
            code="fiscal_manual_receipt_required",
        )
    return Decision(
        Action.RECORD_UNSIGNED,
        "the signing device is unavailable; the transaction is recorded unsigned",
        (_UNSIGNED_MARKERS.get(country, MARKER_UNSIGNED),),
    )


def _country(value: Country | str) -> Country:
    try:
        return Country(value)
    except ValueError:
        names = ", ".join(c.value for c in Country)
        raise ValueError(f"unknown fiscal country {value!r}; known: {names}") from None
