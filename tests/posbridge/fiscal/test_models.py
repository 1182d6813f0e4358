"""The fiscal model: platform-shaped JSON in, typed objects out, every error naming its field."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from posbridge.fiscal.models import (
    CashboxState,
    ClosureReport,
    EpsonItCashbox,
    FiscalStore,
    OfflineMode,
    OfflineModePatch,
    OfflineModeView,
    RksvCashbox,
    TransactionAnswer,
    TransactionRequest,
    parse_cashbox,
)
from posbridge.fiscal.offline import Country, Strategy

KEY = base64.b64encode(bytes(range(32))).decode()


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    """Each error as (dotted location, message)."""
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.value.errors()]


def sale(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receipt_reference": "R-0001",
        "type": "sale",
        "moment": "2025-03-01T12:00:00+01:00",
        "amounts": {"20": "12.00", "10": "3.50", "13": "0", "0": "0", "special": "0"},
        "payments": [{"method": "cash", "amount": "15.50"}],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


# --- offline mode ---------------------------------------------------------------------


def test_offline_mode_accepts_allowed_strategies_and_refuses_others() -> None:
    mode = OfflineMode.model_validate(
        {"offline_countries": {"AT": {"enabled": True, "strategy": "standard-signing"},
                               "IT": {"enabled": False, "strategy": "no-signing"}}}
    )
    assert mode.setting("IT").strategy is Strategy.NO_SIGNING
    with pytest.raises(ValidationError) as exc:
        OfflineMode.model_validate(
            {"offline_countries": {"DE": {"enabled": True, "strategy": "late-signing"}}}
        )
    [(loc, msg)] = errors(exc)
    assert loc == "offline_countries" and "'late-signing'" in msg and "DE" in msg
    with pytest.raises(ValidationError, match="colour"):
        OfflineMode.model_validate({"offline_countries": {}, "colour": 1})


def test_get_view_shows_every_country_with_its_choices() -> None:
    mode = OfflineMode.model_validate(
        {"offline_countries": {"IT": {"enabled": False, "strategy": "no-signing"}}}
    )
    view = OfflineModeView.of(mode).model_dump(mode="json")["offline_countries"]
    assert set(view) == {c.value for c in Country}
    assert view["IT"] == {
        "enabled": False,
        "strategy": "no-signing",
        "editable": True,
        "allowed_strategies": ["manual-receipts", "no-signing"],
    }
    assert view["AT"] == {
        "enabled": True,
        "strategy": "standard-signing",
        "editable": True,
        "allowed_strategies": ["standard-signing", "late-signing"],
    }
    assert view["DE"]["editable"] is False


def test_patch_changes_only_what_it_names_and_is_validated() -> None:
    mode = OfflineMode()
    patched = mode.patched(OfflineModePatch.model_validate(
        {"offline_countries": {"AT": {"enabled": False}}}
    ))
    assert patched.setting("AT").enabled is False
    assert patched.setting("AT").strategy is Strategy.STANDARD_SIGNING
    with pytest.raises(ValidationError, match="not allowed in IT"):
        mode.patched(OfflineModePatch.model_validate(
            {"offline_countries": {"IT": {"strategy": "late-signing"}}}
        ))


# --- stores and cashboxes -----------------------------------------------------------


def test_store_validates_time_zone_and_fills_closures_per_country() -> None:
    at = FiscalStore.model_validate(
        {"id": "vienna-1", "country": "AT", "timezone": "Europe/Vienna"}
    )
    assert at.closure_reports == (ClosureReport.MONTHLY_ZERO, ClosureReport.YEARLY_ZERO)
    assert str(at.zone) == "Europe/Vienna"
    with pytest.raises(ValidationError) as exc:
        FiscalStore.model_validate({"id": "x", "country": "AT", "timezone": "Europe/Atlantis"})
    assert errors(exc)[0][0] == "timezone" and "Europe/Atlantis" in errors(exc)[0][1]
    with pytest.raises(ValidationError) as exc:
        FiscalStore.model_validate({"id": "x", "country": "FR", "timezone": "Europe/Paris"})
    assert errors(exc)[0][0] == "country"
    with pytest.raises(ValidationError, match="once"):
        FiscalStore.model_validate({"id": "x", "country": "IT", "timezone": "Europe/Rome",
                                    "automatic_closure_reports": ["daily-z", "daily-z"]})


def test_italian_exemption_classes_map_to_natura_codes() -> None:
    it = FiscalStore.model_validate({
        "id": "rome-1", "country": "IT", "timezone": "Europe/Rome",
        "exemption_codes": {"export": "N3", "art10": "N4", "margin": "N5"},
    })
    assert it.exemption_code("art10") == "N4"
    assert it.exemption_code("unmapped") == "N3"
    assert it.exemption_code(None) == "N3"
    with pytest.raises(ValidationError) as exc:
        FiscalStore.model_validate({"id": "x", "country": "IT", "timezone": "Europe/Rome",
                                    "exemption_codes": {"art10": "N7"}})
    assert errors(exc)[0][0] == "exemption_codes.art10"
    with pytest.raises(ValidationError, match="IT stores only"):
        FiscalStore.model_validate({"id": "x", "country": "AT", "timezone": "Europe/Vienna",
                                    "exemption_codes": {"art10": "N4"}})


def rksv(**config: Any) -> dict[str, Any]:
    provider_config = {"cashbox_id": "KASSE-1", "provider": "AT1", "aes_key": KEY,
                       "signature_unit": {"type": "software"}}
    provider_config.update(config)
    return {"id": "box-1", "store_id": "vienna-1", "fiscal_provider_id": "rksv-at",
            "provider_config": provider_config}


def test_rksv_cashbox() -> None:
    box = parse_cashbox(rksv())
    assert isinstance(box, RksvCashbox) and box.state is CashboxState.PROVISIONED
    assert box.provider_config.aes_key_bytes() == bytes(range(32))
    assert KEY not in repr(box)  # the key never reaches a log line
    hsm = {"type": "remote", "url": "https://hsm.example/", "token": "t"}
    remote = parse_cashbox(rksv(signature_unit=hsm))
    assert isinstance(remote, RksvCashbox)
    cases = {
        "aes_key": (rksv(aes_key=base64.b64encode(b"short").decode()), "32 bytes"),
        "cashbox_id": (rksv(cashbox_id="KASSE_1"), "pattern"),
        "provider": (rksv(provider="DE1"), "pattern"),
        "signature_unit.remote.url": (
            rksv(signature_unit={**hsm, "url": "http://hsm.example/"}),
            "https",
        ),
        "signature_unit": (rksv(signature_unit={"type": "usb"}), "type"),
    }
    for field, (data, text) in cases.items():
        with pytest.raises(ValidationError) as exc:
            parse_cashbox(data)
        [(loc, msg)] = errors(exc)
        assert loc == f"rksv-at.provider_config.{field}", loc
        assert text in msg or text in loc, msg
    with pytest.raises(ValidationError, match="base64"):
        parse_cashbox(rksv(aes_key="not base64!"))


def test_epson_cashbox_and_provider_mismatch() -> None:
    data = {"id": "rt-1", "store_id": "rome-1", "fiscal_provider_id": "epson-it",
            "state": "online", "warning_codes": ["paper_near_end"],
            "provider_config": {"hostname": "192.168.1.60", "printer_model": "FP-81II RT"}}
    box = parse_cashbox(data)
    assert isinstance(box, EpsonItCashbox) and box.provider_config.port == 80
    assert box.state is CashboxState.ONLINE
    # RKSV settings under the Epson provider: named by the provider's own shape.
    with pytest.raises(ValidationError) as exc:
        parse_cashbox({**data, "provider_config": rksv()["provider_config"]})
    assert any(loc.startswith("epson-it.provider_config") for loc, _ in errors(exc))
    with pytest.raises(ValidationError) as exc:
        parse_cashbox({**data, "provider_config": {"hostname": "bad host", "printer_model": "X"}})
    assert errors(exc)[0][0] == "epson-it.provider_config.hostname"
    with pytest.raises(ValidationError) as exc:
        parse_cashbox({**data, "fiscal_provider_id": "fiskaly-de"})
    assert "fiscal_provider_id" in str(exc.value)


# --- transactions -------------------------------------------------------------------


def test_a_sale_by_amounts() -> None:
    tx = TransactionRequest.for_country(sale(), "AT")
    assert tx.total == Decimal("15.50") and isinstance(tx.total, Decimal)
    assert tx.tax_amounts["20"] == Decimal("12.00")
    assert tx.moment.utcoffset() is not None


def test_a_sale_by_items_agrees_with_its_amounts() -> None:
    items = [
        {"description": "Shirt", "quantity": 2, "unit_price": "4.99", "tax_rate": "20"},
        {"description": "Discount", "quantity": "1", "unit_price": "-1.98", "tax_rate": "20"},
        {"description": "Book", "quantity": "0.5", "unit_price": "7.01", "tax_rate": "10"},
    ]
    tx = TransactionRequest.for_country(sale(amounts=None, items=items, payments=[
        {"method": "card", "amount": "11.51"}]), "AT")
    # 0.5 x 7.01 = 3.505 -> 3.51 (half up)
    assert tx.tax_amounts == {"20": Decimal("8.00"), "10": Decimal("3.51")}
    with pytest.raises(ValidationError, match=r"amounts\.20 is 9.00 but the items"):
        TransactionRequest.for_country(sale(amounts={"20": "9.00", "10": "3.51"}, items=items,
                                            payments=[]), "AT")


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"amounts": {"20": 12.0}}, "amounts.20", "not a JSON number"),
        ({"amounts": {"20": "12.005"}}, "amounts.20", "2 decimal places"),
        ({"amounts": {"20": "1e3"}}, "amounts.20", "decimal places"),
        ({"amounts": {"21": "1.00"}}, "amounts", "unknown tax rate '21'"),
        ({"payments": [{"method": "cash", "amount": "15.00"}]}, "", "payments add up to 15.00"),
        ({"payments": [{"method": "gold", "amount": "15.50"}]}, "payments.0.method", ""),
        ({"amounts": {"20": "-1.00"}, "payments": []}, "", "sale cannot have a negative"),
        ({"type": "return", "payments": []}, "", "return cannot have a positive"),
        ({"type": "void", "payments": []}, "", "original: a void must name"),
        ({"original": "R-0000"}, "", "original: only a void or a return"),
        ({"type": "zero", "payments": []}, "", "zero receipt carries no amounts"),
        ({"amounts": None, "payments": []}, "", "needs amounts or items"),
        ({"receipt_reference": "R 1"}, "receipt_reference", "visible characters"),
        ({"receipt_reference": ""}, "receipt_reference", "at least 1"),
        ({"receipt_reference": "R" * 65}, "receipt_reference", "at most 64"),
        ({"moment": "2025-03-01T12:00:00"}, "moment", "timezone"),
        ({"moment": 1740826800}, "moment", "ISO 8601"),
        ({"type": "refund"}, "type", ""),
        ({"tip": "1.00"}, "tip", "Extra"),
    ],
)
def test_bad_requests_name_the_field(changes: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        TransactionRequest.for_country(sale(**changes), "AT")
    found = errors(exc)
    assert any(loc == field and text in msg for loc, msg in found), found


def test_tax_rates_depend_on_the_country() -> None:
    italian = sale(amounts={"22": "12.20"}, payments=[{"method": "cash", "amount": "12.20"}])
    assert TransactionRequest.for_country(italian, "IT").total == Decimal("12.20")
    with pytest.raises(ValidationError, match="unknown tax rate '22' for AT"):
        TransactionRequest.for_country(italian, "AT")
    # Without a country any supported rate passes the structural check.
    assert TransactionRequest.model_validate(italian).total == Decimal("12.20")


def test_return_void_and_start() -> None:
    ret = TransactionRequest.model_validate(sale(
        type="return", original="R-0000", amounts={"20": "-12.00"},
        payments=[{"method": "cash", "amount": "-12.00"}]))
    assert ret.total == Decimal("-12.00")
    void = TransactionRequest.model_validate(sale(type="void", original="R-0000",
                                                  amounts={"20": "-12.00"}, payments=[]))
    assert void.original == "R-0000"
    start = TransactionRequest.model_validate(sale(type="start", amounts=None, payments=[]))
    assert start.total == 0


def test_answer_shape() -> None:
    answer = TransactionAnswer.model_validate({
        "state": "OK", "number": 7, "series": "1", "signature": "abc",
        "signature_items": [{"caption": "RKSV", "format": "QR_CODE", "data": "_R1-AT1_..."}],
        "markers": ["Storno"],
    })
    assert answer.model_dump(mode="json")["signature_items"][0]["format"] == "QR_CODE"
    with pytest.raises(ValidationError):
        TransactionAnswer.model_validate({"state": "SIGNED"})


def test_an_exchange_may_sell_and_take_back_on_one_receipt() -> None:
    exchange = TransactionRequest.for_country(
        {
            "receipt_reference": "R-9",
            "type": "sale",
            "moment": "2026-11-27T10:00:00+01:00",
            "amounts": {"20": "49.90", "13": "-12.00"},
            "payments": [{"method": "cash", "amount": "37.90"}],
        },
        "AT",
    )
    assert exchange.total == Decimal("37.90")
    with pytest.raises(ValidationError, match="a sale cannot have a negative total"):
        TransactionRequest.for_country(
            {
                "receipt_reference": "R-10",
                "type": "sale",
                "moment": "2026-11-27T10:00:00+01:00",
                "amounts": {"20": "10.00", "13": "-12.00"},
            },
            "AT",
        )
