"""Austrian RKSV (Registrierkassensicherheitsverordnung): receipt signing, DEP 7 export
and a verifier, byte-compatible with the A-SIT reference implementation
(BMF-RKSV-Technik/at-registrierkassen-mustercode).

Typical use::

    unit = SoftwareSignatureUnit.generate(key_id="U:ATU12345678-K0")
    box = RksvCashbox(cashbox_id="KASSE-1", aes_key=os.urandom(32), provider="AT0")
    start = await box.sign(ReceiptInput("1", now, kind=ReceiptKind.START), unit)
    sale = await box.sign(ReceiptInput("2", now, {TaxSet.NORMAL: Decimal("12.34")}), unit)
    result = verify_dep7(dep7([start, sale], [unit]), crypto_container(box.aes_key, [unit]),
                         cashbox_id="KASSE-1")
"""

from drivers.fiscal.rksv.cashbox import ReceiptSequenceError, RksvCashbox, ZeroReceiptRequired
from drivers.fiscal.rksv.export import crypto_container, dep7
from drivers.fiscal.rksv.receipt import (
    InvalidReceipt,
    MachineCode,
    ReceiptInput,
    ReceiptKind,
    SignedReceipt,
    TaxSet,
    format_amount,
    parse_amount,
    parse_jws,
)
from drivers.fiscal.rksv.remote import RemoteSignatureUnit, RemoteUnitState
from drivers.fiscal.rksv.units import (
    SignatureUnit,
    SignatureUnitUnavailable,
    SoftwareSignatureUnit,
)
from drivers.fiscal.rksv.verify import Check, Finding, VerificationResult, verify_dep7

__all__ = [
    "Check",
    "Finding",
    "InvalidReceipt",
    "MachineCode",
    "ReceiptInput",
    "ReceiptKind",
    "ReceiptSequenceError",
    "RemoteSignatureUnit",
    "RemoteUnitState",
    "RksvCashbox",
    "SignatureUnit",
    "SignatureUnitUnavailable",
    "SignedReceipt",
    "SoftwareSignatureUnit",
    "TaxSet",
    "VerificationResult",
    "ZeroReceiptRequired",
    "crypto_container",
    "dep7",
    "format_amount",
    "parse_amount",
    "parse_jws",
    "verify_dep7",
]
