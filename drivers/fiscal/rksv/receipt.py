"""RKSV receipts: what the cashbox is asked to sign and the machine-readable code it signs.

The machine-readable code (Detailspezifikation Abs 4/5; reference:
BMF-RKSV-Technik/at-registrierkassen-mustercode,
``ReceiptRepresentationForSignature.getDataToBeSigned``) is::

    _R1-AT<n>_<cashbox id>_<receipt id>_<YYYY-MM-DDThh:mm:ss>_<normal>_<reduced 1>
    _<reduced 2>_<null>_<special>_<turnover counter>_<certificate serial or key id>_<chain>

Amounts are euros with a decimal comma and exactly two decimals, no thousands separator
("1234,50", "-5,00"). ``AT0`` names a closed system, which identifies its key as
``<company id>-<key id>`` (e.g. ``U:ATU12345678-K0``); open systems (``AT1``..) put the
signing certificate's serial number in hex. The QR code appends ``_`` and the standard
base64 of the JWS signature (``CashBoxUtils.getQRCodeRepresentationFromJWSCompactRepresentation``).
Cashbox and receipt ids must not contain ``_`` since it separates the fields.

Money is ``Decimal`` euros at the edge and integer cents inside; floats are refused.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from drivers.errors import EncodingError
from drivers.fiscal.rksv import crypto

__all__ = [
    "TAX_SET_ORDER",
    "InvalidReceipt",
    "MachineCode",
    "ParsedJws",
    "ReceiptInput",
    "ReceiptKind",
    "SignedReceipt",
    "TaxSet",
    "format_amount",
    "parse_amount",
    "parse_jws",
]

_CENT = Decimal("0.01")
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_AMOUNT = re.compile(r"-?(0|[1-9][0-9]*),[0-9]{2}")
_PROVIDER = re.compile(r"AT(0|[1-9][0-9]*)")
_SUITE_PREFIX = "R1-"


class InvalidReceipt(EncodingError):
    """Receipt data that cannot be put into an RKSV code (a float amount, ``_`` in an id...)."""

    code = "invalid_receipt"


class TaxSet(enum.StrEnum):
    """The five VAT sets of the code, named as in the official test scenarios."""

    NORMAL = "taxSetNormal"  # 20 %
    REDUCED_1 = "taxSetErmaessigt1"  # 10 %
    REDUCED_2 = "taxSetErmaessigt2"  # 13 %
    NULL = "taxSetNull"  # 0 %
    SPECIAL = "taxSetBesonders"  # 19 %

    @property
    def rate(self) -> Decimal:
        """The VAT rate in percent."""
        return _RATES[self]


_RATES = {
    TaxSet.NORMAL: Decimal(20),
    TaxSet.REDUCED_1: Decimal(10),
    TaxSet.REDUCED_2: Decimal(13),
    TaxSet.NULL: Decimal(0),
    TaxSet.SPECIAL: Decimal(19),
}

TAX_SET_ORDER: tuple[TaxSet, ...] = (
    TaxSet.NORMAL,
    TaxSet.REDUCED_1,
    TaxSet.REDUCED_2,
    TaxSet.NULL,
    TaxSet.SPECIAL,
)
"""The order of the amounts in the machine-readable code."""


class ReceiptKind(enum.StrEnum):
    """Receipt types, named as in the official test scenarios (``typeOfReceipt``)."""

    START = "START_BELEG"
    STANDARD = "STANDARD_BELEG"
    STORNO = "STORNO_BELEG"
    TRAINING = "TRAINING_BELEG"
    NULL = "NULL_BELEG"

    @property
    def zero_only(self) -> bool:
        """Start and null receipts carry no amounts."""
        return self in (ReceiptKind.START, ReceiptKind.NULL)


def format_amount(cents: int) -> str:
    """Cents -> the code's amount format: ``1234`` -> ``"12,34"``, ``-500`` -> ``"-5,00"``."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros},{rest:02d}"


def parse_amount(text: str) -> int:
    """The code's amount format -> cents; raises ``InvalidReceipt`` on anything else."""
    if not _AMOUNT.fullmatch(text):
        raise InvalidReceipt(f"amount {text!r} is not in the form 0,00")
    negative = text.startswith("-")
    euros, cents = text.lstrip("-").split(",")
    value = int(euros) * 100 + int(cents)
    return -value if negative else value


def _decimal_to_cents(tax_set: TaxSet, value: object) -> int:
    # bool is an int and float is imprecise: money comes as Decimal or not at all.
    if not isinstance(value, Decimal):
        raise InvalidReceipt(
            f"amount for {tax_set.value} must be a Decimal (euros), not {type(value).__name__}"
        )
    try:
        quantized = value.quantize(_CENT)
    except InvalidOperation as exc:
        raise InvalidReceipt(f"amount for {tax_set.value} is not a usable number") from exc
    if not value.is_finite() or quantized != value:
        raise InvalidReceipt(f"amount for {tax_set.value} has more than two decimals: {value}")
    return int(quantized * 100)


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidReceipt(f"{name} must be a non-empty string")
    if "_" in value:
        raise InvalidReceipt(f"{name} {value!r} must not contain '_' (the code's separator)")
    return value


@dataclass(frozen=True)
class ReceiptInput:
    """One receipt the cashbox should sign.

    ``receipt_id`` is the receipt number printed in the code (unique per cashbox);
    ``when`` is naive local time; ``amounts`` are gross euros per tax set (missing sets
    are zero).
    """

    receipt_id: str
    when: datetime
    amounts: Mapping[TaxSet, Decimal] = field(default_factory=dict)
    kind: ReceiptKind = ReceiptKind.STANDARD

    def __post_init__(self) -> None:
        _check_id("receipt_id", self.receipt_id)
        if not isinstance(self.when, datetime):
            raise InvalidReceipt("when must be a datetime")
        if self.when.tzinfo is not None:
            raise InvalidReceipt("when must be naive local time, as printed on the receipt")
        for key in self.amounts:
            if not isinstance(key, TaxSet):
                raise InvalidReceipt(f"unknown tax set {key!r}")
        cents = self.cents  # validates every amount now, not at signing time
        if self.kind.zero_only and any(cents):
            raise InvalidReceipt(f"a {self.kind.value} carries no amounts")

    @classmethod
    def from_cents(
        cls,
        receipt_id: str,
        when: datetime,
        cents: Mapping[TaxSet, int],
        kind: ReceiptKind = ReceiptKind.STANDARD,
    ) -> ReceiptInput:
        """Build from integer cents per tax set."""
        for tax_set, value in cents.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidReceipt(f"cents for {tax_set} must be an int")
        amounts = {tax_set: Decimal(value).scaleb(-2) for tax_set, value in cents.items()}
        return cls(receipt_id, when, amounts, kind)

    @property
    def cents(self) -> tuple[int, int, int, int, int]:
        """Amounts in cents, in code order (normal, reduced 1, reduced 2, null, special)."""
        a, b, c, d, e = (
            _decimal_to_cents(tax_set, self.amounts.get(tax_set, Decimal(0)))
            for tax_set in TAX_SET_ORDER
        )
        return (a, b, c, d, e)

    @property
    def total_cents(self) -> int:
        """The sum over all tax sets, in cents (what the turnover counter adds)."""
        return sum(self.cents)


@dataclass(frozen=True)
class MachineCode:
    """The twelve fields of the machine-readable code (the JWS payload)."""

    provider: str
    cashbox_id: str
    receipt_id: str
    when: datetime
    cents: tuple[int, int, int, int, int]
    turnover: str
    certificate_serial: str
    chain: str

    def __post_init__(self) -> None:
        if not _PROVIDER.fullmatch(self.provider):
            raise InvalidReceipt(f"provider {self.provider!r} is not AT0, AT1, ...")
        _check_id("cashbox_id", self.cashbox_id)
        _check_id("receipt_id", self.receipt_id)
        _check_id("certificate serial", self.certificate_serial)

    @property
    def closed_system(self) -> bool:
        """AT0 names a closed system (keys without a certification service provider)."""
        return self.provider == "AT0"

    @property
    def text(self) -> str:
        """The code as signed and printed (without the signature)."""
        return self._join(self.turnover, self.chain)

    @property
    def ocr_text(self) -> str:
        """The OCR variant: binary values in base32 instead of base64 (Abs 14)."""
        return self._join(
            crypto.b32encode(crypto.b64decode(self.turnover)),
            crypto.b32encode(crypto.b64decode(self.chain)),
        )

    def _join(self, turnover: str, chain: str) -> str:
        fields = [
            "",
            _SUITE_PREFIX + self.provider,
            self.cashbox_id,
            self.receipt_id,
            self.when.strftime(_DATE_FORMAT),
            *(format_amount(value) for value in self.cents),
            turnover,
            self.certificate_serial,
            chain,
        ]
        return "_".join(fields)

    @classmethod
    def parse(cls, text: str) -> MachineCode:
        """Parse a code; raises ``InvalidReceipt`` naming the field that is wrong."""
        fields = text.split("_")
        if len(fields) != 13 or fields[0] != "":
            raise InvalidReceipt("the code must have 12 fields, each after a '_'")
        suite = fields[1]
        if not suite.startswith(_SUITE_PREFIX):
            raise InvalidReceipt(f"unknown RK suite {suite!r} (only R1 is defined)")
        try:
            when = datetime.strptime(fields[4], _DATE_FORMAT)
        except ValueError as exc:
            raise InvalidReceipt(f"date {fields[4]!r} is not YYYY-MM-DDThh:mm:ss") from exc
        a, b, c, d, e = (parse_amount(value) for value in fields[5:10])
        for name, value in (("turnover counter", fields[10]), ("chain value", fields[12])):
            try:
                crypto.b64decode(value)
            except ValueError as exc:
                raise InvalidReceipt(f"{name} {value!r} is not base64") from exc
        return cls(
            provider=suite[len(_SUITE_PREFIX) :],
            cashbox_id=fields[2],
            receipt_id=fields[3],
            when=when,
            cents=(a, b, c, d, e),
            turnover=fields[10],
            certificate_serial=fields[11],
            chain=fields[12],
        )


@dataclass(frozen=True)
class ParsedJws:
    """A receipt JWS taken apart: its code, the bytes that were signed, the signature."""

    code: MachineCode
    signing_input: bytes
    signature: bytes

    @property
    def failed(self) -> bool:
        """The signature is the 'Sicherheitseinrichtung ausgefallen' marker."""
        return self.signature == crypto.FAILED_SIGNATURE


def parse_jws(jws: str) -> ParsedJws:
    """Take a receipt JWS compact serialization apart; raises ``InvalidReceipt``."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise InvalidReceipt("a JWS compact serialization has three parts")
    header, payload, signature = parts
    if header != crypto.JWS_HEADER_ES256:
        raise InvalidReceipt('the JWS header must be {"alg":"ES256"}')
    try:
        code_text = crypto.b64url_decode(payload).decode("utf-8")
        raw_signature = crypto.b64url_decode(signature)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidReceipt("the JWS payload or signature is not base64url") from exc
    return ParsedJws(
        code=MachineCode.parse(code_text),
        signing_input=f"{header}.{payload}".encode("ascii"),
        signature=raw_signature,
    )


@dataclass(frozen=True)
class SignedReceipt:
    """A receipt after signing: what goes into the journal, the DEP and onto paper."""

    jws: str
    code: str
    receipt_id: str
    kind: ReceiptKind
    unit_id: str
    certificate_serial: str
    turnover_cents: int
    """The turnover counter after this receipt (training receipts leave it unchanged)."""
    failed: bool
    """The unit could not sign: the signature is the failure marker."""

    @property
    def signature(self) -> bytes:
        """The raw JWS signature (r||s, or the failure marker)."""
        return crypto.b64url_decode(self.jws.rsplit(".", 1)[1])

    @property
    def qr_text(self) -> str:
        """What the QR code on the receipt holds: the code, ``_``, base64 of the signature."""
        return f"{self.code}_{crypto.b64encode(self.signature)}"

    @property
    def ocr_text(self) -> str:
        """The OCR-friendly form (base32 values) for printers without QR codes."""
        code = MachineCode.parse(self.code)
        return f"{code.ocr_text}_{crypto.b32encode(self.signature)}"
