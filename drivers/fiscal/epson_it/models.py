"""Typed values of the Epson RT driver: sale lines, payments, departments, results, status.

Money and quantities are ``Decimal`` throughout; nothing here does I/O.

VAT on an Italian RT printer lives in the printer's *department* table: a sale line names a
department and the department carries the VAT rate, or for 0 % sales the "natura" (exemption
code N1..N6 of the Agenzia delle Entrate). The driver resolves each ``FiscalItem`` (a VAT
rate and/or exemption, or an explicit department) to a department through a
``DepartmentTable`` that mirrors how the printer is programmed.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from drivers.errors import EncodingError

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "ClosureResult",
    "Department",
    "DepartmentTable",
    "DocumentState",
    "Exemption",
    "FiscalDocumentRef",
    "FiscalItem",
    "FiscalPrinterStatus",
    "FiscalResult",
    "JournalState",
    "PaperState",
    "Payment",
    "PaymentKind",
]

_ZERO = Decimal(0)


class Exemption(enum.StrEnum):
    """ "Natura" of a 0 % VAT sale (Agenzia delle Entrate codes).

    The Epson RT VAT table has a two-letter label for each (efsta EFR docs, "VAT Handling":
    ES, EE, NS, NI, RM, AL); the mapping below follows the FatturaPA meaning of N1..N6.
    """

    N1 = "N1"  # escluse ex art. 15
    N2 = "N2"  # non soggette
    N3 = "N3"  # non imponibili
    N4 = "N4"  # esenti
    N5 = "N5"  # regime del margine
    N6 = "N6"  # altre operazioni non IVA

    @property
    def rt_label(self) -> str:
        """The printer's own two-letter VAT label for this exemption."""
        return _RT_LABELS[self]


_RT_LABELS = {
    Exemption.N1: "EE",
    Exemption.N2: "NS",
    Exemption.N3: "NI",
    Exemption.N4: "ES",
    Exemption.N5: "RM",
    Exemption.N6: "AL",
}


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _check_vat(vat_rate: Decimal, exemption: Exemption | None, what: str) -> None:
    if vat_rate < 0 or vat_rate >= 100:
        raise EncodingError(f"{what}: VAT rate {vat_rate} % is out of range")
    if exemption is not None and vat_rate != 0:
        raise EncodingError(
            f"{what}: exemption {exemption} is only allowed on 0 % VAT, not {vat_rate} %"
        )
    if exemption is None and vat_rate == 0:
        raise EncodingError(f"{what}: a 0 % VAT sale needs an exemption code N1..N6")


@dataclass(frozen=True)
class Department:
    """One department ("reparto") as programmed in the printer."""

    number: int
    vat_rate: Decimal
    exemption: Exemption | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 99:
            raise EncodingError(f"department {self.number}: expected 1..99")
        _check_vat(self.vat_rate, self.exemption, f"department {self.number}")

    @property
    def vat_label(self) -> str:
        """What the receipt prints beside a line: ``22%`` or the exemption code (``N2``)."""
        if self.exemption is not None:
            return self.exemption.value
        return f"{self.vat_rate.normalize():f}%"


@dataclass(frozen=True)
class FiscalItem:
    """One sale line. Give a VAT rate (with ``exemption`` for 0 %) or a department, or both
    (then they must agree with the department table)."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal | None = None
    exemption: Exemption | None = None
    department: int | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise EncodingError(f"{self.description!r}: quantity must be positive")
        if self.unit_price < 0:
            raise EncodingError(f"{self.description!r}: unit price must not be negative")
        # The wire carries cents and thousandths: refuse what would be silently rounded.
        if _exponent(self.unit_price) < -2 or _exponent(self.quantity) < -3:
            raise EncodingError(
                f"{self.description!r}: at most 2 decimals for prices, 3 for quantities"
            )
        if self.department is None and self.vat_rate is None and self.exemption is None:
            raise EncodingError(f"{self.description!r}: give a VAT rate or a department")
        if self.vat_rate is not None or self.exemption is not None:
            _check_vat(self.effective_vat_rate or _ZERO, self.exemption, repr(self.description))

    @property
    def effective_vat_rate(self) -> Decimal | None:
        """The VAT rate, 0 when only an exemption was given."""
        if self.vat_rate is None and self.exemption is not None:
            return _ZERO
        return self.vat_rate

    @property
    def amount(self) -> Decimal:
        """Line total, rounded to the cent like the printer does."""
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"), ROUND_HALF_UP)


class DepartmentTable:
    """The printer's department programming, used to place each item in a department."""

    def __init__(self, departments: Iterable[Department]) -> None:
        self._by_number: dict[int, Department] = {}
        for department in departments:
            if department.number in self._by_number:
                raise EncodingError(f"department {department.number} is defined twice")
            self._by_number[department.number] = department

    def __contains__(self, number: object) -> bool:
        return number in self._by_number

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_number.values())

    def get(self, number: int) -> Department | None:
        """The department with this number, or None."""
        return self._by_number.get(number)

    def resolve(self, item: FiscalItem) -> Department:
        """The department ``item`` is sold in; EncodingError when none fits."""
        rate = item.effective_vat_rate
        if item.department is not None:
            department = self._by_number.get(item.department)
            if department is None:
                raise EncodingError(f"{item.description!r}: no department {item.department}")
            if rate is not None and (
                department.vat_rate != rate or department.exemption != item.exemption
            ):
                raise EncodingError(
                    f"{item.description!r}: department {department.number} is "
                    f"{department.vat_label}, not the item's VAT"
                )
            return department
        for department in self._by_number.values():
            if department.vat_rate == rate and department.exemption == item.exemption:
                return department
        wanted = item.exemption.value if item.exemption else f"{rate} %"
        raise EncodingError(f"{item.description!r}: no department is programmed for {wanted}")


# Department n carries the VAT table entry the efsta EFR docs list for Epson RT printers
# (22/10/5/4 %), then one department per exemption. Real printers are programmed by the
# dealer; pass your own table to the driver and the emulator when it differs.
DEFAULT_DEPARTMENTS = DepartmentTable(
    [
        Department(1, Decimal(22), description="IVA 22%"),
        Department(2, Decimal(10), description="IVA 10%"),
        Department(3, Decimal(5), description="IVA 5%"),
        Department(4, Decimal(4), description="IVA 4%"),
        *(
            Department(5 + index, _ZERO, exemption, description=f"{exemption} {exemption.rt_label}")
            for index, exemption in enumerate(Exemption)
        ),
    ]
)


class PaymentKind(enum.Enum):
    """Payment means, as ``(paymentType, index)`` of ``printRecTotal``.

    Types and indexes as used by integrations (721377/procassa ``lib/epsonxml.js``:
    cash 0, cheque 1, card 2 with index 1..10, ticket 3 with index 1..10, not paid 5).
    """

    CASH = (0, 0, "CONTANTI")
    CHEQUE = (1, 0, "ASSEGNI")
    CARD = (2, 1, "CARTA DI CREDITO")
    TICKET = (3, 1, "TICKET")
    NOT_PAID = (5, 0, "NON RISCOSSO")

    @property
    def payment_type(self) -> int:
        return self.value[0]

    @property
    def index(self) -> int:
        return self.value[1]

    @property
    def label(self) -> str:
        return self.value[2]

    @classmethod
    def from_wire(cls, payment_type: int, index: int) -> PaymentKind:
        """The kind for a ``paymentType``; the index only refines it."""
        for kind in cls:
            if kind.payment_type == payment_type:
                return kind
        raise ValueError(f"unknown paymentType {payment_type} (index {index})")


@dataclass(frozen=True)
class Payment:
    """One payment line of a receipt."""

    amount: Decimal
    kind: PaymentKind = PaymentKind.CASH
    description: str | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0 or _exponent(self.amount) < -2:
            raise EncodingError(f"payment {self.kind.name}: expected a positive amount in cents")


@dataclass(frozen=True)
class FiscalDocumentRef:
    """What identifies a registered document on an RT printer: the daily closure (Z)
    number, the document number within that day, the date and the printer's serial."""

    z_number: int
    number: int
    date: dt.date
    serial: str

    def reference_message(self, kind: str) -> str:
        """``VOID 0012 0003 04092024 99MEY012345`` (kind ``VOID`` or ``REFUND``): the
        ``printRecMessage messageType="4"`` text (OCA l10n-italy ``fiscal_epos_print``)."""
        return f"{kind} {self.z_number:04d} {self.number:04d} {self.date:%d%m%Y} {self.serial}"


@dataclass(frozen=True)
class FiscalResult:
    """What the printer answered for a registered document."""

    number: int
    z_number: int
    date_time: dt.datetime
    amount: Decimal | None
    serial: str | None = None

    @property
    def ref(self) -> FiscalDocumentRef:
        """The reference a later void or refund needs (requires the printer serial)."""
        if not self.serial:
            raise EncodingError("the printer serial is unknown: pass serial= to the driver")
        return FiscalDocumentRef(self.z_number, self.number, self.date_time.date(), self.serial)


@dataclass(frozen=True)
class ClosureResult:
    """Answer to a daily closure (Z report)."""

    z_number: int
    daily_amount: Decimal | None
    date_time: dt.datetime | None


class PaperState(enum.StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


class JournalState(enum.StrEnum):
    """The electronic journal (DGFE / MPD), second character of ``printerStatus``."""

    OK = "ok"
    NEAR_FULL = "near_full"
    TO_FORMAT = "to_format"
    PREVIOUS = "previous"
    OTHER_DEVICE = "other_device"
    FULL = "full"
    UNKNOWN = "unknown"


class DocumentState(enum.StrEnum):
    """Fourth character of ``printerStatus``: which document is open."""

    FISCAL_OPEN = "fiscal_open"
    CLOSED = "closed"
    NON_FISCAL_OPEN = "non_fiscal_open"
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    ERROR = "error"
    OTHER = "other"


@dataclass(frozen=True)
class FiscalPrinterStatus:
    """The printer's state as far as the protocol tells it.

    The status digits say "offline: end of paper or cover open" without saying which, so
    ``paper`` and ``cover_open`` are only definite when the printer said so (a refused
    command answered ``EPTR_REC_EMPTY`` or ``EPTR_COVER_OPEN`` since it went offline).
    """

    online: bool
    paper: PaperState
    cover_open: bool | None
    journal: JournalState
    document: DocumentState
    drawer_open: bool | None
    error_code: str | None
    error: str | None
    raw: str
    details: Mapping[str, str] = field(default_factory=dict)
