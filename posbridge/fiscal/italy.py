"""Italian RT cashboxes (``epson-it``): the fiscal printer registers and prints the sale.

A transaction becomes a fiscal receipt on the Epson RT printer (``drivers.fiscal.epson_it``);
its document number and daily closure (Z) number are the answer, journaled before it is
sent. A void or a return names the original by its ``receipt_reference``, found in the
journal. While the printer cannot be reached the country's offline strategy decides:
``manual-receipts`` refuses the sale (hand out a manual receipt), ``no-signing`` journals
it unsigned and says so ("DOCUMENTO NON FISCALE").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from drivers.errors import ConnectFailed, ConnectionLost, TransportTimeout
from drivers.fiscal.epson_it import (
    ClosureResult,
    EpsonFiscalPrinter,
    Exemption,
    FiscalDocumentRef,
    FiscalItem,
    FiscalResult,
    Payment,
    PaymentKind,
)
from posbridge.fiscal.models import EpsonItCashbox, FiscalStore, TransactionRequest, TransactionType

__all__ = ["PrinterUnreachable", "close_day", "document", "register"]

_PAYMENTS = {
    "cash": PaymentKind.CASH,
    "card": PaymentKind.CARD,
    "voucher": PaymentKind.TICKET,
    "transfer": PaymentKind.NOT_PAID,
    "other": PaymentKind.NOT_PAID,
}


class PrinterUnreachable(Exception):
    """The RT printer did not answer: the offline strategy decides what happens."""


def _items(store: FiscalStore, request: TransactionRequest) -> list[FiscalItem]:
    def exemption(rate: str, exemption_class: str | None) -> Exemption | None:
        return Exemption(store.exemption_code(exemption_class)) if Decimal(rate) == 0 else None

    if request.items:
        return [
            FiscalItem(
                description=item.description,
                quantity=abs(item.quantity),
                unit_price=abs(item.unit_price),
                vat_rate=Decimal(item.tax_rate),
                exemption=exemption(item.tax_rate, item.exemption_class),
            )
            for item in request.items
        ]
    return [
        FiscalItem(
            description=f"VENDITA IVA {rate}%",
            quantity=Decimal(1),
            unit_price=abs(amount),
            vat_rate=Decimal(rate),
            exemption=exemption(rate, None),
        )
        for rate, amount in request.tax_amounts.items()
        if amount != 0
    ]


def _payments(request: TransactionRequest) -> list[Payment]:
    if not request.payments:
        return [Payment(abs(request.total))]
    return [Payment(abs(p.amount), _PAYMENTS[p.method.value]) for p in request.payments]


async def register(
    cashbox: EpsonItCashbox,
    store: FiscalStore,
    request: TransactionRequest,
    original: dict[str, Any] | None,
) -> FiscalResult:
    """Print and register the transaction; raises PrinterUnreachable, or
    ``FiscalPrinterError`` (paper out, cover open, a refused document: nothing was
    registered)."""
    config = cashbox.provider_config
    printer = EpsonFiscalPrinter(
        config.hostname, config.port, model=config.printer_model, serial=config.serial
    )
    try:
        if request.type is TransactionType.SALE:
            return await printer.fiscal_receipt(_items(store, request), _payments(request))
        assert original is not None, "a void or return names its original (checked before)"
        ref = FiscalDocumentRef(
            z_number=int(original["z_number"]),
            number=int(original["number"]),
            date=dt.date.fromisoformat(original["date"]),
            serial=str(original["serial"]),
        )
        if request.type is TransactionType.VOID:
            return await printer.void(ref)
        return await printer.refund(ref, _items(store, request), _payments(request))
    except (ConnectFailed, ConnectionLost, TransportTimeout) as exc:
        raise PrinterUnreachable(str(exc)) from exc


async def close_day(cashbox: EpsonItCashbox) -> ClosureResult:
    """The daily closure (Z report); raises PrinterUnreachable or FiscalPrinterError."""
    config = cashbox.provider_config
    printer = EpsonFiscalPrinter(
        config.hostname, config.port, model=config.printer_model, serial=config.serial
    )
    try:
        return await printer.daily_closure()
    except (ConnectFailed, ConnectionLost, TransportTimeout) as exc:
        raise PrinterUnreachable(str(exc)) from exc


def document(result: FiscalResult) -> dict[str, Any]:
    """What a later void or return needs to name this document."""
    return {
        "z_number": result.z_number,
        "number": result.number,
        "date": result.date_time.date().isoformat(),
        "serial": result.serial or "",
    }
