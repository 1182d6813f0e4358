"""The cryptographic building blocks of the RKSV detail specification (suite R1).

* Turnover counter ("Stand-Umsatz-Zaehler-AES256-ICM", Detailspezifikation Abs 8-10): the
  running total in cents as a big-endian two's-complement integer of N bytes (5..16; the
  A-SIT reference uses 8), encrypted with AES-256 in ICM (= CTR) mode. The IV is the first
  16 bytes of SHA-256(cashbox id + receipt id), both UTF-8. Only the first N cipher bytes
  are kept, which CTR allows because it is a stream cipher (reference:
  BMF-RKSV-Technik/at-registrierkassen-mustercode, ``regkassen-common/.../CryptoUtil.java``
  ``encryptCTR``/``decryptTurnOverCounter``).
* Chain value ("Sig-Voriger-Beleg", Abs 4): the first 8 bytes of SHA-256 over the previous
  receipt's JWS compact serialization, or over the cashbox id for the start receipt;
  base64 (``CryptoUtil.computeChainingValue``).
* JWS ES256: header ``{"alg":"ES256"}``, payload = the machine-readable code, signature =
  raw r||s (64 bytes); every part base64url without padding
  (``ManualJWSModule.signMachineCodeRepOfReceipt``).
* A unit that cannot sign leaves the literal "Sicherheitseinrichtung ausgefallen" as the
  signature part (base64url), the same module's damaged branch.

Encodings follow the reference too: values inside the machine-readable code use standard
base64 *with* padding; JWS parts use base64url *without* padding; the OCR form re-encodes
base64 values as base32.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "CHAIN_VALUE_LENGTH",
    "FAILED_SIGNATURE",
    "JWS_HEADER_ES256",
    "STORNO_MARKER",
    "TRAINING_MARKER",
    "TURNOVER_LENGTH",
    "b32decode",
    "b32encode",
    "b64decode",
    "b64encode",
    "b64url_decode",
    "b64url_encode",
    "chain_value",
    "decrypt_turnover",
    "der_to_raw",
    "encrypt_turnover",
    "es256_sign",
    "es256_verify",
    "jws_compact",
    "jws_signing_input",
    "raw_to_der",
    "turnover_iv",
]

TURNOVER_LENGTH = 8
"""Bytes of the encrypted turnover counter kept in the receipt (spec: 5..16, reference: 8)."""

CHAIN_VALUE_LENGTH = 8
"""Bytes of SHA-256 kept as the chain value (RK suite R1)."""

JWS_HEADER_ES256 = "eyJhbGciOiJFUzI1NiJ9"
"""base64url of ``{"alg":"ES256"}``, byte for byte what the reference emits."""

FAILED_SIGNATURE = b"Sicherheitseinrichtung ausgefallen"
"""The JWS signature bytes of a receipt whose signature creation unit failed."""

TRAINING_MARKER = "VFJB"
"""base64 of ``TRA``: stands in for the encrypted counter on training receipts."""

STORNO_MARKER = "U1RP"
"""base64 of ``STO``: stands in for the encrypted counter on storno receipts."""

_P256_COORDINATE = 32


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as used inside the machine-readable code."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64; raises ``ValueError`` on anything else."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not base64: {text!r}") from exc


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2), as used in JWS parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """base64url without padding; padding in the input is refused like JWS requires."""
    if "=" in text:
        raise ValueError("base64url in JWS must not be padded")
    try:
        raw = text.encode("ascii")
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not base64url: {text!r}") from exc


def b32encode(data: bytes) -> str:
    """base32 with padding, as the OCR form of the code uses for binary values."""
    return base64.b32encode(data).decode("ascii")


def b32decode(text: str) -> bytes:
    """base32 (RFC 4648); raises ``ValueError`` on anything else."""
    try:
        return base64.b32decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not base32: {text!r}") from exc


def turnover_iv(cashbox_id: str, receipt_id: str) -> bytes:
    """The ICM IV: first 16 bytes of SHA-256 over cashbox id and receipt id (UTF-8)."""
    return hashlib.sha256((cashbox_id + receipt_id).encode("utf-8")).digest()[:16]


def _keystream_xor(data: bytes, aes_key: bytes, iv: bytes) -> bytes:
    if len(aes_key) != 32:
        raise ValueError("the turnover counter key must be 32 bytes (AES-256)")
    # CTR is its own inverse; encrypting a zero-padded 16-byte block and truncating is
    # exactly the reference's "encrypt 16 bytes, keep the first N".
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def encrypt_turnover(
    turnover_cents: int,
    aes_key: bytes,
    cashbox_id: str,
    receipt_id: str,
    length: int = TURNOVER_LENGTH,
) -> str:
    """Encrypt the running total (cents) for one receipt; returns base64 of ``length`` bytes.

    Raises ``ValueError`` when the length is outside 5..16 or the total does not fit it.
    """
    if not 5 <= length <= 16:
        raise ValueError("the turnover counter length must be 5..16 bytes")
    try:
        plain = turnover_cents.to_bytes(length, "big", signed=True)
    except OverflowError as exc:
        raise ValueError(f"turnover {turnover_cents} does not fit {length} bytes") from exc
    return b64encode(_keystream_xor(plain, aes_key, turnover_iv(cashbox_id, receipt_id)))


def decrypt_turnover(encrypted: str, aes_key: bytes, cashbox_id: str, receipt_id: str) -> int:
    """Decrypt a turnover counter from a receipt; the length is taken from the value itself."""
    cipher = b64decode(encrypted)
    if not 5 <= len(cipher) <= 16:
        raise ValueError(f"turnover counter of {len(cipher)} bytes (allowed: 5..16)")
    plain = _keystream_xor(cipher, aes_key, turnover_iv(cashbox_id, receipt_id))
    return int.from_bytes(plain, "big", signed=True)


def chain_value(previous_jws: str | None, cashbox_id: str) -> str:
    """The chain value of the next receipt: over the previous JWS, or the cashbox id at start."""
    source = cashbox_id if previous_jws is None else previous_jws
    return b64encode(hashlib.sha256(source.encode("utf-8")).digest()[:CHAIN_VALUE_LENGTH])


def jws_signing_input(payload: str) -> bytes:
    """The bytes an ES256 unit signs: ``header.payload`` in base64url."""
    return f"{JWS_HEADER_ES256}.{b64url_encode(payload.encode('utf-8'))}".encode("ascii")


def jws_compact(signing_input: bytes, signature: bytes) -> str:
    """Join the signing input and the raw signature into a JWS compact serialization."""
    return f"{signing_input.decode('ascii')}.{b64url_encode(signature)}"


def der_to_raw(der_signature: bytes) -> bytes:
    """DER ECDSA-Sig-Value -> the 64-byte r||s JWS uses (RFC 7518 section 3.4)."""
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(_P256_COORDINATE, "big") + s.to_bytes(_P256_COORDINATE, "big")


def raw_to_der(raw_signature: bytes) -> bytes:
    """64-byte r||s -> DER, for libraries that verify DER only."""
    if len(raw_signature) != 2 * _P256_COORDINATE:
        raise ValueError("an ES256 signature is 64 bytes")
    r = int.from_bytes(raw_signature[:_P256_COORDINATE], "big")
    s = int.from_bytes(raw_signature[_P256_COORDINATE:], "big")
    return encode_dss_signature(r, s)


def es256_sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 with SHA-256 over ``data``; returns raw r||s."""
    return der_to_raw(private_key.sign(data, ec.ECDSA(hashes.SHA256())))


def es256_verify(public_key: ec.EllipticCurvePublicKey, data: bytes, raw_signature: bytes) -> bool:
    """True when ``raw_signature`` (r||s) is a valid ES256 signature of ``data``."""
    if len(raw_signature) != 2 * _P256_COORDINATE:
        return False
    try:
        public_key.verify(raw_to_der(raw_signature), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
