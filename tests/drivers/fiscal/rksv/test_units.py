"""Software signature units: identity, persistence, signing and the damaged state."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.errors import DeviceError, DeviceNotReady
from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.units import SignatureUnitUnavailable, SoftwareSignatureUnit


def _public_key(unit: SoftwareSignatureUnit) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(unit.public_key_pem().encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


async def test_unit_with_certificate_is_named_by_hex_serial() -> None:
    unit = SoftwareSignatureUnit.generate()
    pem = unit.certificate_pem()
    assert pem is not None
    certificate = x509.load_pem_x509_certificate(pem.encode())
    assert int(unit.certificate_serial(), 16) == certificate.serial_number
    assert unit.certificate_serial() == unit.certificate_serial().lower()
    assert certificate.public_key() == _public_key(unit)
    assert unit.unit_id == unit.certificate_serial()


async def test_closed_system_unit_is_named_by_key_id_without_certificate() -> None:
    unit = SoftwareSignatureUnit.generate(key_id="U:ATU12345678-K0", unit_id="tse-0")
    assert unit.certificate_serial() == "U:ATU12345678-K0"
    assert unit.certificate_pem() is None
    assert unit.unit_id == "tse-0"


async def test_signatures_are_raw_es256_over_the_signing_input() -> None:
    unit = SoftwareSignatureUnit.generate(key_id="U:ATU1-K1")
    data = crypto.jws_signing_input("_R1-AT0_x")
    signature = await unit.sign(data)
    assert len(signature) == 64
    assert crypto.es256_verify(_public_key(unit), data, signature)
    assert not crypto.es256_verify(_public_key(unit), data + b".", signature)


async def test_damaged_unit_raises_unavailable_until_repaired() -> None:
    unit = SoftwareSignatureUnit.generate()
    unit.damaged = True
    with pytest.raises(SignatureUnitUnavailable) as caught:
        await unit.sign(b"x")
    assert isinstance(caught.value, DeviceNotReady)
    assert isinstance(caught.value, DeviceError)
    assert caught.value.code == "signature_unit_unavailable"
    unit.damaged = False
    assert len(await unit.sign(b"x")) == 64


async def test_from_pem_restores_the_same_key_and_certificate() -> None:
    unit = SoftwareSignatureUnit.generate()
    again = SoftwareSignatureUnit.from_pem(
        unit.private_key_pem(), certificate_pem=unit.certificate_pem()
    )
    assert again.certificate_serial() == unit.certificate_serial()
    signature = await again.sign(b"data")
    assert crypto.es256_verify(_public_key(unit), b"data", signature)


def test_units_refuse_inconsistent_material() -> None:
    other = SoftwareSignatureUnit.generate()
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ValueError, match="does not belong"):
        SoftwareSignatureUnit(key, certificate=other.certificate)
    with pytest.raises(ValueError, match="key id"):
        SoftwareSignatureUnit(key)
    with pytest.raises(ValueError, match="P-256"):
        SoftwareSignatureUnit(ec.generate_private_key(ec.SECP384R1()), key_id="U:X-K1")
