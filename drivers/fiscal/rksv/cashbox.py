"""The state an RKSV cashbox carries from receipt to receipt, and the signing step.

Per receipt (reference: BMF-RKSV-Technik/at-registrierkassen-mustercode, ``DemoCashBox``
``createStoreAndSignReceiptPackage``):

* standard and storno receipts add their amounts to the turnover counter; training
  receipts do not. Storno receipts carry ``STO`` and training receipts ``TRA`` (base64)
  where the encrypted counter would be; all others carry the encrypted counter.
* the chain value hashes the previous receipt's JWS (the cashbox id for the start receipt).
* a unit that cannot sign leaves the failure marker as the signature; the chain goes on.
  After a failure the next *signed* receipt must be a zero receipt (Nullbeleg,
  RKSV section 17 (4)). ``sign`` refuses anything else with ``ZeroReceiptRequired`` and
  leaves the state untouched, so the caller signs a null receipt and then retries.
* the first receipt is the start receipt: no amounts, signed, chained to the cashbox id.

``RksvCashbox`` changes only after a receipt is complete, and one lock serialises
signing, so a failed call never leaves half a receipt behind.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.errors import DeviceError
from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.receipt import (
    InvalidReceipt,
    MachineCode,
    ReceiptInput,
    ReceiptKind,
    SignedReceipt,
)
from drivers.fiscal.rksv.units import SignatureUnit, SignatureUnitUnavailable

__all__ = ["ReceiptSequenceError", "RksvCashbox", "ZeroReceiptRequired"]

_CLOSED_SYSTEM_ID_PREFIXES = ("U:", "S:", "G:")  # UID, tax number, GLN


class ReceiptSequenceError(DeviceError):
    """The receipt cannot come next (no start receipt yet, a second one, time going back)."""

    code = "receipt_sequence"


class ZeroReceiptRequired(ReceiptSequenceError):
    """The unit works again after a failure: a signed null receipt must come first."""

    code = "zero_receipt_required"


@dataclass
class RksvCashbox:
    """One cashbox ("Registrierkasse"): its identity, key and running state.

    ``receipt_number`` counts the receipts signed so far; the printed receipt number is
    the caller's ``ReceiptInput.receipt_id``. Persist the state with ``to_dict`` after
    every receipt (the journal does) and restore it with ``from_dict``.
    """

    cashbox_id: str
    aes_key: bytes
    provider: str = "AT0"
    receipt_number: int = 0
    turnover_cents: int = 0
    last_jws: str | None = None
    needs_zero_receipt: bool = False
    last_when: datetime | None = None
    unit_id: str | None = None
    """The unit that handled the last receipt."""
    turnover_length: int = crypto.TURNOVER_LENGTH
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "_" in self.cashbox_id or not self.cashbox_id:
            raise InvalidReceipt("the cashbox id must be non-empty and free of '_'")
        if len(self.aes_key) != 32:
            raise ValueError("the turnover counter key must be 32 bytes (AES-256)")
        if not 5 <= self.turnover_length <= 16:
            raise ValueError("the turnover counter length must be 5..16 bytes")

    @property
    def started(self) -> bool:
        """The start receipt has been signed."""
        return self.last_jws is not None

    async def sign(
        self, receipt: ReceiptInput, unit: SignatureUnit, *, unit_available: bool = True
    ) -> SignedReceipt:
        """Build, chain, encrypt and sign one receipt, then advance the state.

        ``unit_available=False`` (or the unit raising ``SignatureUnitUnavailable``)
        produces a receipt with the failure marker. Raises ``ReceiptSequenceError`` /
        ``ZeroReceiptRequired`` / ``SignatureUnitUnavailable`` (start receipt only)
        without changing the state.
        """
        async with self._lock:
            return await self._sign(receipt, unit, unit_available=unit_available)

    async def _sign(
        self, receipt: ReceiptInput, unit: SignatureUnit, *, unit_available: bool
    ) -> SignedReceipt:
        self._check_sequence(receipt)
        serial = unit.certificate_serial()
        self._check_identifier(serial)

        turnover = self.turnover_cents
        if receipt.kind in (ReceiptKind.STANDARD, ReceiptKind.STORNO):
            turnover += receipt.total_cents
        if receipt.kind is ReceiptKind.STORNO:
            counter_field = crypto.STORNO_MARKER
        elif receipt.kind is ReceiptKind.TRAINING:
            counter_field = crypto.TRAINING_MARKER
        else:
            counter_field = crypto.encrypt_turnover(
                turnover, self.aes_key, self.cashbox_id, receipt.receipt_id, self.turnover_length
            )

        code = MachineCode(
            provider=self.provider,
            cashbox_id=self.cashbox_id,
            receipt_id=receipt.receipt_id,
            when=receipt.when,
            cents=receipt.cents,
            turnover=counter_field,
            certificate_serial=serial,
            chain=crypto.chain_value(self.last_jws, self.cashbox_id),
        ).text
        signing_input = crypto.jws_signing_input(code)

        failed = not unit_available
        signature = crypto.FAILED_SIGNATURE
        if unit_available:
            try:
                signature = await unit.sign(signing_input)
            except SignatureUnitUnavailable:
                failed = True
        if failed and receipt.kind is ReceiptKind.START:
            raise SignatureUnitUnavailable("the start receipt must be signed; the unit is down")
        zero = not any(receipt.cents) and receipt.kind not in (
            ReceiptKind.STORNO,
            ReceiptKind.TRAINING,
        )
        if not failed and self.needs_zero_receipt and not zero:
            # The signature just made is thrown away: the state has not moved.
            raise ZeroReceiptRequired(
                f"the signature unit works again: sign a null receipt before {receipt.receipt_id}"
            )

        jws = crypto.jws_compact(signing_input, signature)
        self.receipt_number += 1
        self.turnover_cents = turnover
        self.last_jws = jws
        self.needs_zero_receipt = failed
        self.last_when = receipt.when
        self.unit_id = unit.unit_id
        return SignedReceipt(
            jws=jws,
            code=code,
            receipt_id=receipt.receipt_id,
            kind=receipt.kind,
            unit_id=unit.unit_id,
            certificate_serial=serial,
            turnover_cents=turnover,
            failed=failed,
        )

    def _check_sequence(self, receipt: ReceiptInput) -> None:
        if not self.started and receipt.kind is not ReceiptKind.START:
            raise ReceiptSequenceError("the first receipt of a cashbox is its start receipt")
        if self.started and receipt.kind is ReceiptKind.START:
            raise ReceiptSequenceError("this cashbox has its start receipt already")
        if self.last_when is not None and receipt.when < self.last_when:
            raise ReceiptSequenceError(
                f"receipt {receipt.receipt_id} is dated {receipt.when:%Y-%m-%dT%H:%M:%S}, "
                f"before the previous receipt ({self.last_when:%Y-%m-%dT%H:%M:%S})"
            )

    def _check_identifier(self, serial: str) -> None:
        # The checking tools refuse hex serials in closed systems and key ids in open ones.
        closed_id = serial.startswith(_CLOSED_SYSTEM_ID_PREFIXES)
        if (self.provider == "AT0") != closed_id:
            kind = "a key id like U:ATU12345678-K0" if self.provider == "AT0" else "a hex serial"
            raise InvalidReceipt(f"provider {self.provider} needs {kind}, the unit says {serial!r}")

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-able values (the AES key in base64: keep it secret)."""
        return {
            "cashbox_id": self.cashbox_id,
            "aes_key": base64.b64encode(self.aes_key).decode("ascii"),
            "provider": self.provider,
            "receipt_number": self.receipt_number,
            "turnover_cents": self.turnover_cents,
            "last_jws": self.last_jws,
            "needs_zero_receipt": self.needs_zero_receipt,
            "last_when": None if self.last_when is None else self.last_when.isoformat(),
            "unit_id": self.unit_id,
            "turnover_length": self.turnover_length,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RksvCashbox:
        """Restore what ``to_dict`` wrote."""
        last_when = data.get("last_when")
        return cls(
            cashbox_id=data["cashbox_id"],
            aes_key=base64.b64decode(data["aes_key"], validate=True),
            provider=data.get("provider", "AT0"),
            receipt_number=int(data.get("receipt_number", 0)),
            turnover_cents=int(data.get("turnover_cents", 0)),
            last_jws=data.get("last_jws"),
            needs_zero_receipt=bool(data.get("needs_zero_receipt", False)),
            last_when=None if last_when is None else datetime.fromisoformat(last_when),
            unit_id=data.get("unit_id"),
            turnover_length=int(data.get("turnover_length", crypto.TURNOVER_LENGTH)),
        )
