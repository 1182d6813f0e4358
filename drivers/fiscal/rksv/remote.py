"""A signature creation unit reached over HTTP: a cloud HSM or a card server on the LAN.

The protocol (ours; ``RemoteUnitEmulator`` in ``remote_emulator`` speaks it too). Every
request carries ``Authorization: Bearer <token>``; paths hang below the base URL, so
``http://sig.local:8080/rksv`` serves ``/rksv/v1/unit``. Bodies are JSON (UTF-8).

``GET {base}/v1/unit`` -> 200::

    {"unit_id": "hsm-1",
     "certificate_serial": "<hex serial, or a key id like U:ATU12345678-K1>",
     "certificate": "<PEM>" | null,
     "public_key": "<SubjectPublicKeyInfo PEM>"}

``POST {base}/v1/sign`` with ``{"input": "<base64url of the JWS signing input>"}`` -> 200
``{"signature": "<base64url of raw r||s, 64 bytes>"}``.

Errors: 401 ``{"error": ...}`` for a missing or wrong token, 503 ``{"error": ...}`` while
the card or HSM is out of order. Anything but 200 is a failure.

``RemoteSignatureUnit.connect`` fetches the identity once and caches it, because the
``SignatureUnit`` identity methods are synchronous and the receipt code must name the
unit even when the service is unreachable (RKSV: a failed unit still appears on the
receipt, with the failure marker as signature). ``to_dict``/``from_dict`` persist that
identity so the daemon can start without the network.

Every failure of ``sign`` — refused, timed out, 4xx/5xx, malformed answer, a signature
that does not verify against the cached public key — raises ``SignatureUnitUnavailable``
naming the cause, within ``timeout`` seconds. Verifying locally matters: a confused
service must not put an invalid signature into the hash chain; RKSV wants the failure
marker then. One connection per request (``Connection: close``): signing is one request
per receipt, and a fresh connection never trips over a half-dead keep-alive socket.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import enum
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.units import SignatureUnit, SignatureUnitUnavailable

__all__ = ["RemoteSignatureUnit", "RemoteUnitState"]

_MAX_HEAD_BYTES = 16 * 1024
_MAX_BODY_BYTES = 256 * 1024  # an identity with a certificate chain fits many times over
_SIGNATURE_LENGTH = 64


class RemoteUnitState(enum.StrEnum):
    """How the last call to the service went."""

    UNKNOWN = "unknown"
    """Restored with ``from_dict``; no call made yet."""
    OK = "ok"
    UNAVAILABLE = "unavailable"


class _Failure(Exception):
    """Why one exchange failed; turned into ``SignatureUnitUnavailable`` by the caller."""


def _load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"public_key is not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("public_key is not a P-256 key (RKSV suite R1 needs ES256)")
    return key


def _check_certificate(pem: str, public_key: ec.EllipticCurvePublicKey, serial: str) -> None:
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"certificate is not a PEM certificate: {exc}") from exc
    if certificate.public_key() != public_key:
        raise ValueError("the certificate does not belong to public_key")
    if serial != format(certificate.serial_number, "x"):
        raise ValueError(
            f"certificate_serial {serial!r} is not the certificate's serial "
            f"{certificate.serial_number:x}"
        )


class _ServiceClient:
    """The wire side: one JSON request per connection to the service. Raises ``_Failure``."""

    def __init__(self, base_url: str, *, token: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http://host[:port][/path], not {base_url!r}")
        if not token or any(ch in token for ch in "\r\n"):
            raise ValueError("the token must be non-empty and on one line")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")

    async def call(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        """One request; the JSON object of a 200 answer."""
        status, reason, payload = await self._exchange(method, self._prefix + path, body)
        if status != 200:
            raise _Failure(_describe_error(status, reason, payload))
        try:
            answer = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Failure(f"{method} {path}: the answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise _Failure(f"{method} {path}: the answer is not a JSON object")
        return answer

    async def identity(self) -> _Identity:
        """``GET /v1/unit``, checked: a P-256 key, and a certificate (if any) that matches."""
        answer = await self.call("GET", "/v1/unit")
        serial = answer.get("certificate_serial")
        certificate = answer.get("certificate")
        public_key = answer.get("public_key")
        if not isinstance(serial, str) or not serial:
            raise _Failure("the identity has no certificate_serial")
        if not isinstance(public_key, str):
            raise _Failure("the identity has no public_key")
        if certificate is not None and not isinstance(certificate, str):
            raise _Failure("the identity's certificate is neither PEM nor null")
        try:
            return _Identity(serial, certificate, public_key)
        except ValueError as exc:
            raise _Failure(f"unusable identity: {exc}") from exc

    async def _exchange(
        self, method: str, target: str, body: bytes | None
    ) -> tuple[int, str, bytes]:
        # One deadline bounds connect, send and answer: the caller gets its answer (or
        # the failure) within ``timeout``, whatever stage hangs.
        deadline = asyncio.get_running_loop().time() + self.timeout
        tls = ssl.create_default_context() if self._tls else None
        try:
            async with asyncio.timeout_at(deadline):
                reader, writer = await asyncio.open_connection(self._host, self._port, ssl=tls)
        except TimeoutError as exc:
            raise _Failure(f"no connection within {self.timeout:g} s") from exc
        except OSError as exc:
            raise _Failure(f"cannot connect: {exc.strerror or exc}") from exc
        host = f"[{self._host}]" if ":" in self._host else self._host
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {host}:{self._port}\r\n"
            f"Authorization: Bearer {self._token}\r\nAccept: application/json\r\n"
            "Connection: close\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            async with asyncio.timeout_at(deadline):
                writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
                await writer.drain()
                return await _read_response(reader)
        except TimeoutError as exc:
            raise _Failure(f"no answer within {self.timeout:g} s") from exc
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
            raise _Failure("the connection dropped before the answer") from exc
        except ValueError as exc:
            raise _Failure(f"malformed HTTP answer: {exc}") from exc
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()


class _Identity:
    """A unit's checked identity: serial or key id, optional certificate, public key."""

    def __init__(self, serial: str, certificate_pem: str | None, public_key_pem: str) -> None:
        if not serial:
            raise ValueError("certificate_serial is empty")
        self.public_key = _load_public_key(public_key_pem)
        if certificate_pem is not None:
            _check_certificate(certificate_pem, self.public_key, serial)
        self.serial = serial
        self.certificate_pem = certificate_pem
        self.public_key_pem = public_key_pem

    def same_key(self, other: _Identity) -> bool:
        return self.serial == other.serial and self.public_key == other.public_key


def _describe_error(status: int, reason: str, payload: bytes) -> str:
    detail = ""
    with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
        error = json.loads(payload).get("error")
        if isinstance(error, str):
            detail = f": {error[:200]}"
    if status == 401:
        return f"HTTP 401, the service refused the token (check the unit's token){detail}"
    if status == 503:
        return f"HTTP 503, the signature device is out of order{detail}"
    return f"HTTP {status} {reason}".rstrip() + detail


class RemoteSignatureUnit(SignatureUnit):
    """An ES256 unit behind the HTTP protocol in the module docstring.

    Build it with ``await RemoteSignatureUnit.connect(...)`` (fetches the identity) or
    ``RemoteSignatureUnit.from_dict(saved, token=...)`` (no network). ``state`` and
    ``last_error`` tell how the last call went.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        unit_id: str,
        certificate_serial: str,
        certificate_pem: str | None,
        public_key_pem: str,
        timeout: float = 2.0,
    ) -> None:
        """Prefer ``connect`` or ``from_dict``; this checks and caches a known identity.

        Raises ValueError for a bad URL, token or identity.
        """
        self._client = _ServiceClient(base_url, token=token, timeout=timeout)
        self._identity = _Identity(certificate_serial, certificate_pem, public_key_pem)
        self.unit_id = unit_id
        self.state = RemoteUnitState.UNKNOWN
        self.last_error: str | None = None

    @property
    def base_url(self) -> str:
        """The service's base URL (no trailing slash)."""
        return self._client.base_url

    @property
    def timeout(self) -> float:
        """Seconds one call may take, connect included."""
        return self._client.timeout

    def __repr__(self) -> str:  # never the token
        return f"RemoteSignatureUnit({self.base_url!r}, unit_id={self.unit_id!r})"

    # ``timeout`` is the unit's setting for every later call, not this call's deadline.
    @classmethod
    async def connect(
        cls,
        base_url: str,
        *,
        token: str,
        unit_id: str,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> RemoteSignatureUnit:
        """Fetch ``/v1/unit`` once and return the unit with that identity cached.

        ``unit_id`` is ours (configuration, journals); the service's own id is ignored.
        Raises ``SignatureUnitUnavailable`` when the service cannot be reached or
        describes a key that is unusable (not P-256, certificate not matching).
        """
        client = _ServiceClient(base_url, token=token, timeout=timeout)
        try:
            identity = await client.identity()
        except _Failure as exc:
            raise SignatureUnitUnavailable(
                f"remote signature unit {unit_id} ({client.base_url}): {exc}"
            ) from exc
        unit = cls(
            base_url,
            token=token,
            unit_id=unit_id,
            timeout=timeout,
            certificate_serial=identity.serial,
            certificate_pem=identity.certificate_pem,
            public_key_pem=identity.public_key_pem,
        )
        unit.state = RemoteUnitState.OK
        return unit

    def to_dict(self) -> dict[str, Any]:
        """The cached identity as JSON-able values. The token is not included: it is a
        secret and belongs in the configuration, not in state files."""
        return {
            "base_url": self.base_url,
            "unit_id": self.unit_id,
            "certificate_serial": self._identity.serial,
            "certificate": self._identity.certificate_pem,
            "public_key": self._identity.public_key_pem,
            "timeout": self.timeout,
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, token: str, timeout: float | None = None
    ) -> RemoteSignatureUnit:
        """Restore what ``to_dict`` wrote, without a network call (``state`` is UNKNOWN)."""
        return cls(
            data["base_url"],
            token=token,
            unit_id=data["unit_id"],
            certificate_serial=data["certificate_serial"],
            certificate_pem=data.get("certificate"),
            public_key_pem=data["public_key"],
            timeout=float(data.get("timeout", 2.0)) if timeout is None else timeout,
        )

    def certificate_serial(self) -> str:
        return self._identity.serial

    def certificate_pem(self) -> str | None:
        return self._identity.certificate_pem

    def public_key_pem(self) -> str:
        return self._identity.public_key_pem

    async def sign(self, jws_signing_input: bytes) -> bytes:
        body = json.dumps({"input": crypto.b64url_encode(jws_signing_input)}).encode()
        try:
            signature = _signature_from(await self._client.call("POST", "/v1/sign", body))
            if not crypto.es256_verify(self._identity.public_key, jws_signing_input, signature):
                raise _Failure("the signature does not verify against the unit's public key")
        except _Failure as exc:
            raise self._unavailable(str(exc)) from exc
        self._worked()
        return signature

    async def check(self) -> None:
        """Ask the service for its identity and compare it with the cached one.

        For health polling. Raises ``SignatureUnitUnavailable`` when the service is
        unreachable or now holds another key (a swapped card must not sign under the old
        name: its receipts would not verify).
        """
        try:
            identity = await self._client.identity()
            if not identity.same_key(self._identity):
                raise _Failure(
                    f"the service now holds another key ({identity.serial}, expected "
                    f"{self._identity.serial}); register it as a new unit"
                )
        except _Failure as exc:
            raise self._unavailable(str(exc)) from exc
        self._worked()

    def _worked(self) -> None:
        self.state = RemoteUnitState.OK
        self.last_error = None

    def _unavailable(self, cause: str) -> SignatureUnitUnavailable:
        self.state = RemoteUnitState.UNAVAILABLE
        self.last_error = cause
        return SignatureUnitUnavailable(
            f"remote signature unit {self.unit_id} ({self.base_url}): {cause}"
        )


def _signature_from(answer: dict[str, Any]) -> bytes:
    text = answer.get("signature")
    if not isinstance(text, str):
        raise _Failure("the answer has no signature")
    try:
        signature = crypto.b64url_decode(text)
    except (ValueError, binascii.Error) as exc:
        raise _Failure("the signature is not base64url") from exc
    if len(signature) != _SIGNATURE_LENGTH:
        raise _Failure(f"the signature has {len(signature)} bytes, ES256 needs 64")
    return signature


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
    """Status, reason and body of one HTTP/1.1 answer (Content-Length or read to close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > _MAX_HEAD_BYTES:
        raise ValueError("answer head too large")
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ValueError(f"not an HTTP answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "identity").lower() != "identity":
        raise ValueError("chunked answers are not part of the protocol")
    if "content-length" in headers:
        length = int(headers["content-length"])
        if not 0 <= length <= _MAX_BODY_BYTES:
            raise ValueError(f"bad Content-Length {length}")
        body = await reader.readexactly(length)
    else:
        body = await reader.read(_MAX_BODY_BYTES)
    return int(code), reason, body
