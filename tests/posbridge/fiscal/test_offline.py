"""Offline strategies: the whole decision table, row by row."""

from __future__ import annotations

import pytest

from posbridge.fiscal.models import OfflineCountry
from posbridge.fiscal.offline import (
    COUNTRY_RULES,
    MARKER_UNIT_FAILED,
    Action,
    CashboxState,
    Country,
    Strategy,
    StrategyNotAllowed,
    decide,
    validate_strategy,
)

A = Action
S = CashboxState
ON = OfflineCountry(enabled=True, strategy=Strategy.STANDARD_SIGNING)


def setting(strategy: str, enabled: bool = True) -> OfflineCountry:
    return OfflineCountry(enabled=enabled, strategy=Strategy(strategy))


# country, strategy, enabled, signer available, cashbox state -> action
TABLE = [
    ("AT", "standard-signing", True, True, S.ONLINE, A.SIGN),
    ("AT", "standard-signing", True, False, S.ONLINE, A.SIGN_WITH_FAILURE_MARKER),
    ("AT", "standard-signing", True, False, S.OFFLINE, A.SIGN_WITH_FAILURE_MARKER),
    ("AT", "standard-signing", True, True, S.RECOVERING, A.SIGN),
    ("AT", "standard-signing", False, False, S.ONLINE, A.BLOCK),
    ("AT", "standard-signing", False, True, S.ACTIVATED, A.SIGN),
    ("IT", "manual-receipts", True, True, S.ONLINE, A.SIGN),
    ("IT", "manual-receipts", True, False, S.OFFLINE, A.REFUSE_MANUAL),
    ("IT", "no-signing", True, False, S.OFFLINE, A.RECORD_UNSIGNED),
    ("IT", "no-signing", False, False, S.OFFLINE, A.BLOCK),
    ("DE", "no-signing", True, False, S.ONLINE, A.RECORD_UNSIGNED),
    ("HR", "late-signing", True, True, S.ONLINE, A.SIGN),
    ("HR", "late-signing", True, False, S.ONLINE, A.TEMP_SIGN),
    # A backlog is signed first: newer transactions queue behind it.
    ("HR", "late-signing", True, True, S.OFFLINE, A.TEMP_SIGN),
    ("SI", "late-signing", True, True, S.RECOVERING, A.TEMP_SIGN),
    ("HR", "late-signing", False, True, S.RECOVERING, A.BLOCK),
    ("HR", "late-signing", False, False, S.ONLINE, A.BLOCK),
    # Whatever the setting, a cashbox that is not operational takes nothing.
    ("AT", "standard-signing", True, True, S.PROVISIONED, A.BLOCK),
    ("AT", "standard-signing", True, True, S.DEACTIVATED, A.BLOCK),
    ("IT", "no-signing", True, False, S.BLOCKED, A.BLOCK),
]


@pytest.mark.parametrize(("country", "strategy", "enabled", "signer", "state", "action"), TABLE)
def test_decision_table(
    country: str, strategy: str, enabled: bool, signer: bool, state: S, action: A
) -> None:
    decision = decide(country, setting(strategy, enabled), signer, state)
    assert decision.action is action, decision.reason
    assert decision.refused == (action in (A.BLOCK, A.REFUSE_MANUAL))
    assert (decision.code is not None) == decision.refused


def test_refusals_say_why() -> None:
    manual = decide("IT", setting("manual-receipts"), False, "online")
    assert manual.code == "fiscal_manual_receipt_required" and "manual receipt" in manual.reason
    disabled = decide("AT", setting("standard-signing", enabled=False), False, "online")
    assert disabled.code == "fiscal_offline_disabled" and "AT" in disabled.reason
    inactive = decide("AT", ON, True, "deactivated")
    assert inactive.code == "fiscal_cashbox_not_operational" and "deactivated" in inactive.reason


def test_markers() -> None:
    assert decide("AT", ON, False, "online").markers == (MARKER_UNIT_FAILED,)
    assert decide("DE", None, False, "online").markers == ("TSE ausgefallen",)
    assert decide("AT", ON, True, "online").markers == ()


@pytest.mark.parametrize("country", list(Country))
def test_unconfigured_country_uses_its_default_enabled(country: Country) -> None:
    expected = {
        Strategy.STANDARD_SIGNING: A.SIGN_WITH_FAILURE_MARKER,
        Strategy.LATE_SIGNING: A.TEMP_SIGN,
        Strategy.MANUAL_RECEIPTS: A.REFUSE_MANUAL,
        Strategy.NO_SIGNING: A.RECORD_UNSIGNED,
    }[COUNTRY_RULES[country].default]
    assert decide(country, None, False, "online").action is expected
    assert decide(country, None, True, "online").action is A.SIGN


ALLOWED = {
    "AT": {"standard-signing", "late-signing"},
    "IT": {"manual-receipts", "no-signing"},
    "DE": {"no-signing"},
    "HR": {"late-signing"},
    "SI": {"late-signing"},
}


@pytest.mark.parametrize("country", sorted(ALLOWED))
@pytest.mark.parametrize("strategy", [s.value for s in Strategy])
def test_validate_strategy(country: str, strategy: str) -> None:
    if strategy in ALLOWED[country]:
        assert validate_strategy(country, strategy) is Strategy(strategy)
    else:
        with pytest.raises(StrategyNotAllowed) as exc:
            validate_strategy(country, strategy)
        assert country in str(exc.value) and repr(strategy) in str(exc.value)
        assert exc.value.code == "fiscal_strategy_not_allowed"


def test_unknown_names_are_errors_naming_the_value() -> None:
    with pytest.raises(ValueError, match="'sign-later'"):
        validate_strategy("AT", "sign-later")
    with pytest.raises(ValueError, match="'FR'"):
        decide("FR", None, True, "online")
    with pytest.raises(ValueError, match="'sleeping'"):
        decide("AT", None, True, "sleeping")
    # A stored setting the law does not allow is never silently used.
    with pytest.raises(StrategyNotAllowed):
        decide("DE", setting("late-signing"), False, "online")
