"""Italian RT fiscal printers by Epson (FP-81 II RT, FP-90III RT): the FPMate XML driver
(``EpsonFiscalPrinter``) and an emulator of its HTTP endpoint (``FpmateEmulator``).

The emulator is not imported here, so that using the driver does not load Pillow.
"""

from drivers.fiscal.epson_it.models import (
    DEFAULT_DEPARTMENTS,
    ClosureResult,
    Department,
    DepartmentTable,
    DocumentState,
    Exemption,
    FiscalDocumentRef,
    FiscalItem,
    FiscalPrinterStatus,
    FiscalResult,
    JournalState,
    PaperState,
    Payment,
    PaymentKind,
)
from drivers.fiscal.epson_it.printer import (
    EpsonFiscalPrinter,
    FiscalPrinterError,
    FiscalPrinterNotReady,
)

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "ClosureResult",
    "Department",
    "DepartmentTable",
    "DocumentState",
    "EpsonFiscalPrinter",
    "Exemption",
    "FiscalDocumentRef",
    "FiscalItem",
    "FiscalPrinterError",
    "FiscalPrinterNotReady",
    "FiscalPrinterStatus",
    "FiscalResult",
    "JournalState",
    "PaperState",
    "Payment",
    "PaymentKind",
]
