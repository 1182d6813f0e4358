"""Signature creation units ("Signaturerstellungseinheiten") that sign RKSV receipts.

A unit holds one ES256 (ECDSA P-256) key. Open systems identify it by the serial number
of its certificate (hex); closed systems (provider ``AT0``) may use a key without a
certificate and identify it by ``<company id>-<key id>`` such as ``U:ATU12345678-K0``
(reference: BMF-RKSV-Technik/at-registrierkassen-mustercode,
``NEVER_USE_IN_A_REAL_SYSTEM_SoftwareKeySignatureModule`` and
``RKSVCashboxSimulator``, which names key ``i`` ``companyID + "-K" + i``).

``SoftwareSignatureUnit`` keeps the key in memory. It is what the emulator and tests use;
a real cashbox uses a smart card or HSM behind the same ``SignatureUnit`` surface.
"""

from __future__ import annotations

import abc
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from drivers.errors import DeviceNotReady
from drivers.fiscal.rksv import crypto

__all__ = ["SignatureUnit", "SignatureUnitUnavailable", "SoftwareSignatureUnit"]


class SignatureUnitUnavailable(DeviceNotReady):
    """The signature creation unit cannot sign now ("Sicherheitseinrichtung ausgefallen")."""

    code = "signature_unit_unavailable"


class SignatureUnit(abc.ABC):
    """Something that produces ES256 signatures for one identified key."""

    unit_id: str
    """A stable id for configuration and journals (not printed on receipts)."""

    @abc.abstractmethod
    def certificate_serial(self) -> str:
        """What the receipt code names: the certificate serial in hex, or the key id."""

    @abc.abstractmethod
    def certificate_pem(self) -> str | None:
        """The signing certificate, or None for a closed system's bare key."""

    @abc.abstractmethod
    def public_key_pem(self) -> str:
        """The public key (SubjectPublicKeyInfo PEM)."""

    @abc.abstractmethod
    async def sign(self, jws_signing_input: bytes) -> bytes:
        """Sign ``header.payload``; returns raw r||s (64 bytes).

        Raises ``SignatureUnitUnavailable`` when the unit cannot sign now.
        """


def _self_signed(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


class SoftwareSignatureUnit(SignatureUnit):
    """An ES256 key held in memory, with an optional certificate.

    Not for production use in Austria (a software key is no certified unit); it is the
    emulator's unit and the tests'. Set ``damaged = True`` to make it fail like a unit
    that was unplugged.
    """

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        certificate: x509.Certificate | None = None,
        key_id: str | None = None,
        unit_id: str | None = None,
    ) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("RKSV suite R1 needs a P-256 key")
        if certificate is None and key_id is None:
            raise ValueError("a unit without certificate needs a key id (closed systems)")
        if certificate is not None and certificate.public_key() != private_key.public_key():
            raise ValueError("the certificate does not belong to the private key")
        self._key = private_key
        self._certificate = certificate
        self._key_id = key_id
        self.unit_id = unit_id or self.certificate_serial()
        self.damaged = False

    @classmethod
    def generate(
        cls,
        *,
        key_id: str | None = None,
        with_certificate: bool | None = None,
        unit_id: str | None = None,
        common_name: str = "posbridge RKSV software unit",
    ) -> SoftwareSignatureUnit:
        """A fresh P-256 key; with a self-signed certificate unless it is a bare key id.

        ``key_id`` (e.g. ``U:ATU12345678-K0``) makes the unit identify itself by key id as
        closed systems do; ``with_certificate`` defaults to "only when there is no key id".
        """
        key = ec.generate_private_key(ec.SECP256R1())
        if with_certificate is None:
            with_certificate = key_id is None
        certificate = _self_signed(key, common_name) if with_certificate else None
        return cls(key, certificate=certificate, key_id=key_id, unit_id=unit_id)

    @classmethod
    def from_pem(
        cls,
        private_key_pem: str | bytes,
        *,
        certificate_pem: str | bytes | None = None,
        key_id: str | None = None,
        unit_id: str | None = None,
    ) -> SoftwareSignatureUnit:
        """Load a unit saved with ``private_key_pem()`` / ``certificate_pem()``."""
        raw_key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = serialization.load_pem_private_key(raw_key, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("an RKSV unit needs an EC private key")
        certificate = None
        if certificate_pem is not None:
            raw_cert = (
                certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
            )
            certificate = x509.load_pem_x509_certificate(raw_cert)
        return cls(key, certificate=certificate, key_id=key_id, unit_id=unit_id)

    @property
    def certificate(self) -> x509.Certificate | None:
        """The signing certificate, if the unit has one."""
        return self._certificate

    def certificate_serial(self) -> str:
        if self._key_id is not None:
            return self._key_id
        assert self._certificate is not None  # guaranteed by __init__
        return format(self._certificate.serial_number, "x")

    def certificate_pem(self) -> str | None:
        if self._certificate is None:
            return None
        return self._certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def private_key_pem(self) -> str:
        """The private key, unencrypted PKCS#8 PEM: store it like a password."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    async def sign(self, jws_signing_input: bytes) -> bytes:
        if self.damaged:
            raise SignatureUnitUnavailable(f"signature unit {self.unit_id} is out of order")
        # One P-256 signature takes tens of microseconds: cheaper inline than a thread hop.
        return crypto.es256_sign(self._key, jws_signing_input)
