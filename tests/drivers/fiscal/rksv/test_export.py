"""DEP 7 and the cryptographic material container."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.fiscal.rksv.cashbox import RksvCashbox
from drivers.fiscal.rksv.export import crypto_container, dep7
from drivers.fiscal.rksv.receipt import ReceiptInput, ReceiptKind, TaxSet
from drivers.fiscal.rksv.units import SoftwareSignatureUnit

KEY = bytes(range(32))


async def test_groups_follow_unit_changes_in_order() -> None:
    units = [SoftwareSignatureUnit.generate() for _ in range(2)]
    box = RksvCashbox("K", KEY, provider="AT1")
    kinds = [ReceiptKind.START] + [ReceiptKind.STANDARD] * 4
    order = [0, 0, 1, 1, 0]
    receipts = [
        await box.sign(
            ReceiptInput(
                str(n),
                datetime(2024, 1, 1, 10, n),
                {} if kind is ReceiptKind.START else {TaxSet.NORMAL: Decimal("1.00")},
                kind,
            ),
            units[u],
        )
        for n, (kind, u) in enumerate(zip(kinds, order, strict=True))
    ]
    export = dep7(receipts, units)
    groups = export["Belege-Gruppe"]
    assert [len(g["Belege-kompakt"]) for g in groups] == [2, 2, 1]
    flat = [jws for g in groups for jws in g["Belege-kompakt"]]
    assert flat == [r.jws for r in receipts]
    certificate = x509.load_der_x509_certificate(base64.b64decode(groups[1]["Signaturzertifikat"]))
    assert format(certificate.serial_number, "x") == units[1].certificate_serial()
    assert all(g["Zertifizierungsstellen"] == [] for g in groups)


async def test_unknown_unit_is_named() -> None:
    unit = SoftwareSignatureUnit.generate()
    box = RksvCashbox("K", KEY, provider="AT1")
    start = await box.sign(ReceiptInput("1", datetime(2024, 1, 1), kind=ReceiptKind.START), unit)
    with pytest.raises(KeyError, match="receipt 1"):
        dep7([start], [])


def test_container_holds_key_and_certificates_or_public_keys() -> None:
    open_unit = SoftwareSignatureUnit.generate()
    closed_unit = SoftwareSignatureUnit.generate(key_id="U:ATU1-K0")
    container = crypto_container(KEY, [open_unit, closed_unit])
    assert base64.b64decode(container["base64AESKey"]) == KEY
    entries = container["certificateOrPublicKeyMap"]
    cert_entry = entries[open_unit.certificate_serial()]
    assert cert_entry["signatureDeviceType"] == "CERTIFICATE"
    assert cert_entry["id"] == open_unit.certificate_serial()
    x509.load_der_x509_certificate(base64.b64decode(cert_entry["signatureCertificateOrPublicKey"]))
    key_entry = entries["U:ATU1-K0"]
    assert key_entry["signatureDeviceType"] == "PUBLIC_KEY"
    public = serialization.load_der_public_key(
        base64.b64decode(key_entry["signatureCertificateOrPublicKey"])
    )
    assert (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        == closed_unit.public_key_pem()
    )
