"""Items, departments and exemptions: what is refused before anything is sent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from drivers.errors import EncodingError
from drivers.fiscal.epson_it.models import (
    DEFAULT_DEPARTMENTS,
    Department,
    DepartmentTable,
    Exemption,
    FiscalItem,
    FiscalResult,
    Payment,
)


def test_items_resolve_to_departments_by_vat_or_exemption() -> None:
    standard = FiscalItem("Shirt", Decimal(1), Decimal("19.90"), vat_rate=Decimal(22))
    exempt = FiscalItem("Stamp", Decimal(1), Decimal("1.20"), exemption=Exemption.N2)
    assert DEFAULT_DEPARTMENTS.resolve(standard).number == 1
    department = DEFAULT_DEPARTMENTS.resolve(exempt)
    assert department.exemption is Exemption.N2
    assert department.vat_label == "N2"
    assert DEFAULT_DEPARTMENTS.resolve(standard).vat_label == "22%"


def test_explicit_department_must_agree_with_the_items_vat() -> None:
    item = FiscalItem("Bread", Decimal(1), Decimal(2), vat_rate=Decimal(4), department=1)
    with pytest.raises(EncodingError, match="department 1"):
        DEFAULT_DEPARTMENTS.resolve(item)
    by_number = FiscalItem("Bread", Decimal(1), Decimal(2), department=4)
    assert DEFAULT_DEPARTMENTS.resolve(by_number).vat_rate == 4


def test_exemption_only_on_zero_vat_and_zero_vat_needs_one() -> None:
    with pytest.raises(EncodingError, match="only allowed on 0 %"):
        FiscalItem("X", Decimal(1), Decimal(1), vat_rate=Decimal(22), exemption=Exemption.N4)
    with pytest.raises(EncodingError, match="needs an exemption"):
        FiscalItem("X", Decimal(1), Decimal(1), vat_rate=Decimal(0))
    with pytest.raises(EncodingError):
        Department(7, Decimal(10), Exemption.N1)


def test_bad_quantities_and_missing_vat_are_refused() -> None:
    with pytest.raises(EncodingError):
        FiscalItem("X", Decimal(0), Decimal(1), vat_rate=Decimal(22))
    with pytest.raises(EncodingError):
        FiscalItem("X", Decimal(1), Decimal(-1), vat_rate=Decimal(22))
    with pytest.raises(EncodingError):
        FiscalItem("X", Decimal(1), Decimal(1))


def test_unprogrammed_vat_rate_is_refused() -> None:
    table = DepartmentTable([Department(1, Decimal(22))])
    with pytest.raises(EncodingError, match="no department"):
        table.resolve(FiscalItem("X", Decimal(1), Decimal(1), vat_rate=Decimal(10)))
    with pytest.raises(EncodingError, match="twice"):
        DepartmentTable([Department(1, Decimal(22)), Department(1, Decimal(10))])


def test_line_amount_is_rounded_to_cents() -> None:
    item = FiscalItem("Cheese", Decimal("0.333"), Decimal("12.99"), vat_rate=Decimal(10))
    assert item.amount == Decimal("4.33")
    assert FiscalItem("X", Decimal("1.000"), Decimal("2.50"), vat_rate=Decimal(22)).amount == 2.5


def test_prices_beyond_cents_are_refused_not_rounded() -> None:
    with pytest.raises(EncodingError, match="decimals"):
        FiscalItem("X", Decimal(1), Decimal("1.999"), vat_rate=Decimal(22))
    with pytest.raises(EncodingError, match="decimals"):
        FiscalItem("X", Decimal("0.0005"), Decimal(1), vat_rate=Decimal(22))
    with pytest.raises(EncodingError):
        Payment(Decimal("1.001"))


def test_result_ref_needs_the_serial() -> None:
    when = dt.datetime(2024, 9, 4, 10, 30)
    result = FiscalResult(3, 12, when, Decimal(1), serial="99MEY012345")
    assert result.ref.reference_message("VOID") == "VOID 0012 0003 04092024 99MEY012345"
    with pytest.raises(EncodingError):
        _ = FiscalResult(3, 12, when, Decimal(1)).ref
