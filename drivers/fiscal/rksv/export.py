"""Exports: the DEP 7 ("Datenerfassungsprotokoll", Detailspezifikation Abs 3) and the
cryptographic material container a checking tool needs beside it.

DEP 7 (reference: BMF-RKSV-Technik/at-registrierkassen-mustercode, ``DEPExportFormat``,
``DEPBelegDump``, ``SimpleMemoryDEPModule.exportDEP``)::

    {"Belege-Gruppe": [
        {"Signaturzertifikat": "<base64 DER, or '' for a bare key>",
         "Zertifizierungsstellen": ["<base64 DER>", ...],
         "Belege-kompakt": ["<JWS>", ...]}]}

A new group starts whenever the unit changes, so the groups read in order are the
receipts in order (the chain runs across groups).

The container (``CryptographicMaterialContainer`` / ``CertificateOrPublicKeyContainer``
written by ``RKSVCashboxSimulator``)::

    {"base64AESKey": "...",
     "certificateOrPublicKeyMap": {"<serial or key id>": {
         "id": "<serial or key id>",
         "signatureDeviceType": "CERTIFICATE" | "PUBLIC_KEY",
         "signatureCertificateOrPublicKey": "<base64 DER certificate or SubjectPublicKeyInfo>"}}}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.receipt import SignedReceipt
from drivers.fiscal.rksv.units import SignatureUnit

__all__ = ["crypto_container", "dep7"]


def _certificate_b64(unit: SignatureUnit) -> str:
    pem = unit.certificate_pem()
    if pem is None:
        return ""
    certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return crypto.b64encode(certificate.public_bytes(serialization.Encoding.DER))


def _public_key_b64(unit: SignatureUnit) -> str:
    key = serialization.load_pem_public_key(unit.public_key_pem().encode("ascii"))
    return crypto.b64encode(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def dep7(receipts: Iterable[SignedReceipt], units: Iterable[SignatureUnit]) -> dict[str, Any]:
    """The DEP 7 export of ``receipts`` (in signing order) signed by ``units``.

    Raises ``KeyError`` naming a receipt whose unit is not among ``units``.
    """
    by_id = {unit.unit_id: unit for unit in units}
    groups: list[dict[str, Any]] = []
    current_unit: str | None = None
    for receipt in receipts:
        if receipt.unit_id not in by_id:
            raise KeyError(f"receipt {receipt.receipt_id}: unknown unit {receipt.unit_id!r}")
        if receipt.unit_id != current_unit:
            current_unit = receipt.unit_id
            groups.append(
                {
                    "Signaturzertifikat": _certificate_b64(by_id[current_unit]),
                    "Zertifizierungsstellen": [],
                    "Belege-kompakt": [],
                }
            )
        groups[-1]["Belege-kompakt"].append(receipt.jws)
    return {"Belege-Gruppe": groups}


def crypto_container(aes_key: bytes, units: Iterable[SignatureUnit]) -> dict[str, Any]:
    """The AES key and every unit's certificate or public key, keyed by what receipts name."""
    entries: dict[str, dict[str, str]] = {}
    for unit in units:
        serial = unit.certificate_serial()
        has_certificate = unit.certificate_pem() is not None
        entries[serial] = {
            "id": serial,
            "signatureDeviceType": "CERTIFICATE" if has_certificate else "PUBLIC_KEY",
            "signatureCertificateOrPublicKey": (
                _certificate_b64(unit) if has_certificate else _public_key_b64(unit)
            ),
        }
    return {"base64AESKey": crypto.b64encode(aes_key), "certificateOrPublicKeyMap": entries}
