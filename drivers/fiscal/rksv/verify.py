"""A checker for a whole DEP 7 export, doing what the official checking tools do.

Checked, in receipt order across all groups (the rules of the detail specification as
implemented by BMF-RKSV-Technik/at-registrierkassen-mustercode and the checking tool
ztp-at/RKSV ``librksv/verify.py``):

* format: three-part ES256 JWS, twelve code fields, amounts ``0,00``, suite ``R1-AT<n>``;
  the cashbox id is the expected one; the system type (AT0 closed / open) never changes;
* every signature, against the certificate or public key the container holds for the
  serial or key id the receipt names; the group's certificate must match that serial;
  the only unsigned receipts allowed carry the "Sicherheitseinrichtung ausgefallen" marker;
* every chain value (the start receipt's from the cashbox id);
* every turnover counter, decrypted with the container's AES key, equals the running sum
  (standard and storno receipts count, training receipts do not; ``STO``/``TRA`` markers);
  the counter length stays within 5..16 bytes and does not change;
* receipt ids are unique; dates never go back;
* the first receipt is a signed start receipt: no amounts, counter 0;
* after a failure the next signed receipt is a zero receipt (RKSV section 17 (4)).

Every problem names the receipt (its id and position) and the check, and the check goes
on, so one export yields the full list.
"""

from __future__ import annotations

import binascii
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.receipt import InvalidReceipt, ParsedJws, parse_jws

__all__ = ["Check", "Finding", "VerificationResult", "verify_dep7"]


class Check(enum.StrEnum):
    """What a finding is about."""

    EXPORT = "export"
    FORMAT = "format"
    CASHBOX_ID = "cashbox_id"
    SYSTEM_TYPE = "system_type"
    RECEIPT_ID = "receipt_id_unique"
    DATE_ORDER = "date_order"
    CERTIFICATE = "certificate"
    SIGNATURE = "signature"
    CHAIN = "chain"
    TURNOVER = "turnover_counter"
    START_RECEIPT = "start_receipt"
    ZERO_AFTER_FAILURE = "zero_receipt_after_failure"


@dataclass(frozen=True)
class Finding:
    """One problem: which receipt (id and 1-based position), which check, what is wrong."""

    receipt: str
    check: Check
    detail: str

    def __str__(self) -> str:
        return f"{self.receipt}: {self.check.value}: {self.detail}"


@dataclass
class VerificationResult:
    """The outcome of ``verify_dep7``."""

    findings: list[Finding] = field(default_factory=list)
    receipts_checked: int = 0
    failed_receipts: int = 0
    """Receipts carrying the failure marker (allowed, but counted)."""
    turnover_cents: int | None = None
    """The running total after the last receipt, as the amounts add up."""

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.findings

    @property
    def problems(self) -> list[str]:
        """The findings as readable lines."""
        return [str(finding) for finding in self.findings]

    def checks_failed(self, receipt_id: str | None = None) -> set[Check]:
        """The checks that failed (for one receipt id, if given)."""
        return {
            finding.check
            for finding in self.findings
            if receipt_id is None or finding.receipt.startswith(f"receipt {receipt_id!r}")
        }


_Problem = Callable[[Check, str], None]


@dataclass(frozen=True)
class _Key:
    public_key: ec.EllipticCurvePublicKey
    certificate: x509.Certificate | None


def _load_container(
    container: Mapping[str, Any], findings: list[Finding]
) -> tuple[bytes | None, dict[str, _Key]]:
    def problem(detail: str) -> None:
        findings.append(Finding("container", Check.EXPORT, detail))

    aes_key: bytes | None = None
    try:
        aes_key = crypto.b64decode(str(container["base64AESKey"]))
        if len(aes_key) != 32:
            problem("base64AESKey is not a 32-byte AES-256 key")
            aes_key = None
    except (KeyError, ValueError):
        problem("base64AESKey is missing or not base64")
    keys: dict[str, _Key] = {}
    entries = container.get("certificateOrPublicKeyMap", {})
    if not isinstance(entries, Mapping):
        problem("certificateOrPublicKeyMap is not an object")
        return aes_key, keys
    for name, entry in entries.items():
        try:
            der = crypto.b64decode(entry["signatureCertificateOrPublicKey"])
            public_key: object
            if entry.get("signatureDeviceType") == "CERTIFICATE":
                certificate = x509.load_der_x509_certificate(der)
                public_key = certificate.public_key()
            else:
                certificate = None
                public_key = serialization.load_der_public_key(der)
        except (KeyError, TypeError, ValueError):
            problem(f"entry {name!r} holds no readable certificate or public key")
            continue
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            problem(f"entry {name!r} is not a P-256 key (suite R1 signs with ES256)")
            continue
        keys[str(name)] = _Key(public_key, certificate)
    return aes_key, keys


def _flatten(
    dep7: Mapping[str, Any], findings: list[Finding]
) -> list[tuple[str, x509.Certificate | None]]:
    groups = dep7.get("Belege-Gruppe")
    if not isinstance(groups, list):
        findings.append(Finding("DEP", Check.EXPORT, "no 'Belege-Gruppe' list"))
        return []
    receipts: list[tuple[str, x509.Certificate | None]] = []
    for number, group in enumerate(groups, start=1):
        certificate = None
        encoded = group.get("Signaturzertifikat", "") if isinstance(group, Mapping) else ""
        if encoded:
            try:
                certificate = x509.load_der_x509_certificate(crypto.b64decode(encoded))
            except ValueError:
                findings.append(
                    Finding(f"group {number}", Check.CERTIFICATE, "unreadable Signaturzertifikat")
                )
        jws_list = group.get("Belege-kompakt") if isinstance(group, Mapping) else None
        if not isinstance(jws_list, list):
            findings.append(Finding(f"group {number}", Check.EXPORT, "no 'Belege-kompakt' list"))
            continue
        receipts.extend((str(jws), certificate) for jws in jws_list)
    return receipts


def _serial_matches(serial: str, certificate: x509.Certificate) -> bool:
    try:
        return int(serial, 16) == certificate.serial_number
    except ValueError:
        return False


def _find_key(serial: str, keys: Mapping[str, _Key]) -> _Key | None:
    if serial in keys:
        return keys[serial]
    # Open systems: serials may differ in case or leading zeros between tools.
    for key in keys.values():
        if key.certificate is not None and _serial_matches(serial, key.certificate):
            return key
    return None


@dataclass
class _State:
    previous_jws: str | None = None
    running: int | None = 0
    seen_ids: set[str] = field(default_factory=set)
    last_when: datetime | None = None
    in_failure: bool = False
    closed_system: bool | None = None
    counter_length: int | None = None


def verify_dep7(
    dep7: Mapping[str, Any], container: Mapping[str, Any], *, cashbox_id: str
) -> VerificationResult:
    """Check a whole DEP 7 export with the cryptographic material container."""
    result = VerificationResult()
    findings = result.findings
    aes_key, keys = _load_container(container, findings)
    receipts = _flatten(dep7, findings)
    if not receipts:
        findings.append(Finding("DEP", Check.EXPORT, "the export holds no receipts"))
    state = _State()
    for position, (jws, group_certificate) in enumerate(receipts, start=1):
        _check_receipt(position, jws, group_certificate, aes_key, keys, cashbox_id, state, result)
        state.previous_jws = jws
    result.receipts_checked = len(receipts)
    result.turnover_cents = state.running
    return result


def _check_receipt(
    position: int,
    jws: str,
    group_certificate: x509.Certificate | None,
    aes_key: bytes | None,
    keys: Mapping[str, _Key],
    cashbox_id: str,
    state: _State,
    result: VerificationResult,
) -> None:
    first = position == 1

    try:
        parsed = parse_jws(jws)
    except InvalidReceipt as exc:
        result.findings.append(Finding(f"receipt #{position}", Check.FORMAT, str(exc)))
        state.running = None  # its amounts are unknown: resynchronise at the next counter
        return
    code = parsed.code
    name = f"receipt {code.receipt_id!r} (#{position})"

    def problem(check: Check, detail: str) -> None:
        result.findings.append(Finding(name, check, detail))

    if code.cashbox_id != cashbox_id:
        problem(Check.CASHBOX_ID, f"cashbox id {code.cashbox_id!r}, expected {cashbox_id!r}")
    if state.closed_system is None:
        state.closed_system = code.closed_system
    elif state.closed_system != code.closed_system:
        problem(Check.SYSTEM_TYPE, f"provider {code.provider} switches between closed and open")
    if code.receipt_id in state.seen_ids:
        problem(Check.RECEIPT_ID, "this receipt id was used before")
    state.seen_ids.add(code.receipt_id)
    if state.last_when is not None and code.when < state.last_when:
        problem(Check.DATE_ORDER, f"dated {code.when:%Y-%m-%dT%H:%M:%S}, before the receipt before")
    state.last_when = code.when

    expected_chain = crypto.chain_value(state.previous_jws, cashbox_id)
    if code.chain != expected_chain:
        source = "the cashbox id" if first else "the previous receipt"
        check = Check.START_RECEIPT if first else Check.CHAIN
        problem(check, f"chain value {code.chain} does not come from {source}")

    _check_signature(
        parsed.failed, code.certificate_serial, parsed, group_certificate, keys, first, problem
    )
    if parsed.failed:
        result.failed_receipts += 1

    amounts = sum(code.cents)
    markers = (crypto.STORNO_MARKER, crypto.TRAINING_MARKER)
    zero = not any(code.cents) and code.turnover not in markers
    if not parsed.failed:
        if state.in_failure and not zero:
            problem(
                Check.ZERO_AFTER_FAILURE,
                "the first signed receipt after a failure must be a null receipt",
            )
        state.in_failure = False
    else:
        state.in_failure = True
    if first and any(code.cents):
        problem(Check.START_RECEIPT, "the start receipt carries amounts")

    if code.turnover == crypto.TRAINING_MARKER or code.turnover == crypto.STORNO_MARKER:
        if first:
            problem(Check.START_RECEIPT, "the start receipt is a training or storno receipt")
        if code.turnover == crypto.STORNO_MARKER and state.running is not None:
            state.running += amounts
        return
    if state.running is not None:
        state.running += amounts
    _check_counter(code.turnover, aes_key, cashbox_id, code.receipt_id, first, state, problem)


def _check_signature(
    failed: bool,
    serial: str,
    parsed: ParsedJws,
    group_certificate: x509.Certificate | None,
    keys: Mapping[str, _Key],
    first: bool,
    problem: _Problem,
) -> None:
    if group_certificate is not None and not _serial_matches(serial, group_certificate):
        problem(
            Check.CERTIFICATE,
            f"names {serial!r}, its group's certificate is {group_certificate.serial_number:x}",
        )
    if failed:
        if first:
            problem(Check.START_RECEIPT, "the start receipt is not signed")
        return
    key = _find_key(serial, keys)
    if key is None:
        problem(Check.CERTIFICATE, f"the container has no certificate or key for {serial!r}")
        return
    if (
        group_certificate is not None
        and key.certificate is not None
        and group_certificate != key.certificate
    ):
        problem(Check.CERTIFICATE, "the group's certificate differs from the container's")
    if not crypto.es256_verify(key.public_key, parsed.signing_input, parsed.signature):
        problem(Check.SIGNATURE, f"the signature does not verify with {serial!r}")


def _check_counter(
    encrypted: str,
    aes_key: bytes | None,
    cashbox_id: str,
    receipt_id: str,
    first: bool,
    state: _State,
    problem: _Problem,
) -> None:
    if aes_key is None:
        return  # already reported: the container has no usable key
    try:
        length = len(crypto.b64decode(encrypted))
        value = crypto.decrypt_turnover(encrypted, aes_key, cashbox_id, receipt_id)
    except (ValueError, binascii.Error) as exc:
        problem(Check.TURNOVER, str(exc))
        return
    if state.counter_length is None:
        state.counter_length = length
    elif state.counter_length != length:
        problem(Check.TURNOVER, f"counter length changed from {state.counter_length} to {length}")
    if first:
        if value != 0:
            problem(
                Check.START_RECEIPT,
                f"the start receipt's counter is {value}, not 0 (wrong AES key?)",
            )
        return
    if state.running is None:
        state.running = value  # resynchronised after an unreadable receipt
    elif value != state.running:
        problem(
            Check.TURNOVER,
            f"counter decrypts to {value} cents, the amounts add up to "
            f"{state.running} (wrong AES key or altered amounts?)",
        )
