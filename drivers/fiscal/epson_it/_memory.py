"""The emulated RT printer's fiscal memory: registered documents, daily closures, and
how a document looks on paper.

Numbering follows the RT printers: documents are numbered from 1 within each day (each
daily closure period), and the day carries the number its closure (Z report) will have.
A document's full number is therefore ``ZZZZ-NNNN``.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from drivers.fiscal.epson_it.models import FiscalDocumentRef, PaymentKind
from drivers.fiscal.epson_it.protocol import format_amount, format_quantity

__all__ = ["Closure", "DocumentKind", "FiscalDocument", "PrintedLine", "PrintedPayment"]

_WIDTH = 42  # characters per line of an 80 mm fiscal printer in its normal font
_CENT = Decimal("0.01")


class DocumentKind(enum.StrEnum):
    SALE = "sale"
    VOID = "void"
    REFUND = "refund"


@dataclass(frozen=True)
class PrintedLine:
    """A registered sale or refund line, with the VAT label the receipt shows."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    department: int
    vat_rate: Decimal
    vat_label: str  # "22%" or an exemption code such as "N2"

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(_CENT, ROUND_HALF_UP)

    @property
    def vat_amount(self) -> Decimal:
        """VAT included in ``amount`` (prices are gross)."""
        vat = self.amount * self.vat_rate / (100 + self.vat_rate)
        return vat.quantize(_CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class PrintedPayment:
    kind: PaymentKind
    description: str
    amount: Decimal


@dataclass
class FiscalDocument:
    """One registered document (sale, void or refund)."""

    kind: DocumentKind
    z_number: int
    number: int
    date_time: dt.datetime
    serial: str
    lines: list[PrintedLine]
    payments: list[PrintedPayment]
    total: Decimal
    reference: FiscalDocumentRef | None = None
    voided: bool = False
    refunded: Decimal = field(default_factory=Decimal)

    @property
    def ref(self) -> FiscalDocumentRef:
        return FiscalDocumentRef(self.z_number, self.number, self.date_time.date(), self.serial)

    @property
    def signed_total(self) -> Decimal:
        """What the document adds to the day's takings (voids and refunds subtract)."""
        return self.total if self.kind is DocumentKind.SALE else -self.total

    def text(self) -> str:
        """The document as printed, one string with newlines."""
        out = ["DOCUMENTO COMMERCIALE".center(_WIDTH)]
        if self.kind is DocumentKind.SALE:
            out.append("di vendita o prestazione".center(_WIDTH))
        else:
            why = "ANNULLAMENTO" if self.kind is DocumentKind.VOID else "RESO MERCE"
            out.append(f"emesso per {why}".center(_WIDTH))
            if self.reference is not None:
                ref = self.reference
                out.append(
                    f"Documento di riferimento: N.{ref.z_number:04d}-{ref.number:04d} "
                    f"del {ref.date:%d-%m-%Y}"
                )
        out.append(_columns("DESCRIZIONE", "IVA", "Prezzo(€)"))
        for line in self.lines:
            if line.quantity != 1:
                out.append(f"{format_quantity(line.quantity)} x {format_amount(line.unit_price)}")
            sign = "-" if self.kind is not DocumentKind.SALE else ""
            amount = sign + format_amount(line.amount)
            out.append(_columns(line.description, line.vat_label, amount))
        out.append(_columns("TOTALE COMPLESSIVO", "", format_amount(self.total)))
        vat = sum((line.vat_amount for line in self.lines), Decimal(0))
        out.append(_columns("di cui IVA", "", format_amount(vat)))
        paid = Decimal(0)
        for payment in self.payments:
            paid += payment.amount
            out.append(_columns(payment.description, "", format_amount(payment.amount)))
        if self.kind is DocumentKind.SALE and paid > self.total:
            out.append(_columns("RESTO", "", format_amount(paid - self.total)))
        out.append(f"{self.date_time:%d-%m-%Y %H:%M}")
        out.append(f"DOCUMENTO N. {self.z_number:04d}-{self.number:04d}")
        out.append(f"RT {self.serial}")
        return "\n".join(out)


@dataclass(frozen=True)
class Closure:
    """One daily closure (Z report)."""

    z_number: int
    date_time: dt.datetime
    daily_amount: Decimal
    documents: int

    def text(self) -> str:
        return "\n".join(
            [
                "CHIUSURA GIORNALIERA".center(_WIDTH),
                _columns("AZZERAMENTO N.", "", f"{self.z_number:04d}"),
                _columns("DOCUMENTI", "", str(self.documents)),
                _columns("TOTALE GIORNALIERO", "", format_amount(self.daily_amount)),
                f"{self.date_time:%d-%m-%Y %H:%M}",
            ]
        )


def _columns(left: str, middle: str, right: str) -> str:
    room = _WIDTH - len(right) - 6
    return f"{left[:room]:<{room}} {middle:>4} {right}"
