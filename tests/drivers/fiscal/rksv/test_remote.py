"""The remote signature unit against its emulated service on a real port."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.errors import UnsupportedFeature
from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.cashbox import RksvCashbox
from drivers.fiscal.rksv.export import crypto_container, dep7
from drivers.fiscal.rksv.receipt import ReceiptInput, ReceiptKind, TaxSet
from drivers.fiscal.rksv.remote import RemoteSignatureUnit, RemoteUnitState
from drivers.fiscal.rksv.remote_emulator import RemoteUnitEmulator, RemoteUnitServer
from drivers.fiscal.rksv.units import SignatureUnitUnavailable
from drivers.fiscal.rksv.verify import verify_dep7

TOKEN = "s3cret-token"
KEY_ID = "U:ATU12345678-K1"
T0 = datetime(2024, 5, 1, 9, 0, 0)
TIMEOUT = 0.5


@pytest.fixture
def emulator() -> RemoteUnitEmulator:
    return RemoteUnitEmulator(key_id=KEY_ID, token=TOKEN, slow_delay=3.0)


@pytest.fixture
async def server(emulator: RemoteUnitEmulator) -> AsyncIterator[RemoteUnitServer]:
    async with await emulator.serve("127.0.0.1", 0) as served:
        yield served


async def _connect(server: RemoteUnitServer, token: str = TOKEN) -> RemoteSignatureUnit:
    return await RemoteSignatureUnit.connect(
        server.base_url, token=token, unit_id="hsm-1", timeout=TIMEOUT
    )


def _public_key(unit: RemoteSignatureUnit) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(unit.public_key_pem().encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _state(unit: RemoteSignatureUnit) -> tuple[RemoteUnitState, str | None]:
    # A function call, so mypy does not keep the state narrowed across ``sign``.
    return unit.state, unit.last_error


async def _unavailable(unit: RemoteSignatureUnit) -> tuple[str, float]:
    """Sign once expecting failure; the message and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(SignatureUnitUnavailable) as caught:
        await unit.sign(b"header.payload")
    return str(caught.value), time.monotonic() - started


async def test_connect_caches_the_services_identity(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer
) -> None:
    unit = await _connect(server)
    assert unit.unit_id == "hsm-1"
    assert unit.certificate_serial() == KEY_ID
    assert unit.certificate_pem() is None
    assert unit.public_key_pem() == emulator.unit.public_key_pem()
    assert unit.state is RemoteUnitState.OK
    assert TOKEN not in repr(unit)


async def test_open_system_identity_with_certificate() -> None:
    emulator = RemoteUnitEmulator(token=TOKEN)
    async with await emulator.serve("127.0.0.1", 0) as served:
        unit = await _connect(served)
    pem = unit.certificate_pem()
    assert pem is not None
    certificate = x509.load_pem_x509_certificate(pem.encode())
    assert int(unit.certificate_serial(), 16) == certificate.serial_number
    assert certificate.public_key() == _public_key(unit)


async def test_signatures_verify_with_cryptography(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer
) -> None:
    unit = await _connect(server)
    data = crypto.jws_signing_input("_R1-AT0_KASSE-1_1")
    signature = await unit.sign(data)
    assert len(signature) == 64
    assert crypto.es256_verify(_public_key(unit), data, signature)
    assert not crypto.es256_verify(_public_key(unit), data + b"x", signature)
    assert emulator.signatures == 1


async def test_receipts_signed_remotely_pass_the_dep7_verifier(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer
) -> None:
    unit = await _connect(server)
    box = RksvCashbox("KASSE-1", bytes(range(32)), provider="AT0")
    start = await box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), unit)
    sale = await box.sign(
        ReceiptInput("2", T0 + timedelta(minutes=1), {TaxSet.NORMAL: Decimal("12.34")}), unit
    )
    assert not start.failed and not sale.failed
    assert emulator.signatures == 2
    result = verify_dep7(
        dep7([start, sale], [unit]), crypto_container(box.aes_key, [unit]), cashbox_id="KASSE-1"
    )
    assert result.ok, result.problems
    assert result.receipts_checked == 2
    assert result.turnover_cents == 1234


@pytest.mark.parametrize(
    ("state", "cause"),
    [("failing", "HTTP 503"), ("down", "cannot connect"), ("slow", "no answer within")],
)
async def test_faults_make_the_unit_unavailable_within_the_timeout(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer, state: str, cause: str
) -> None:
    unit = await _connect(server)
    emulator.apply_faults({"state": state})
    message, elapsed = await _unavailable(unit)
    assert cause in message
    assert "hsm-1" in message
    assert elapsed < TIMEOUT + 0.3
    assert unit.state is RemoteUnitState.UNAVAILABLE
    assert unit.last_error is not None and cause in unit.last_error
    assert emulator.signatures == 0

    emulator.apply_faults({"state": "ok"})
    assert len(await unit.sign(b"header.payload")) == 64
    assert _state(unit) == (RemoteUnitState.OK, None)  # recovered


async def test_down_means_connection_refused_and_up_listens_on_the_same_port(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer
) -> None:
    port = server.port
    emulator.apply_faults({"state": "down"})
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    emulator.apply_faults({"state": "ok"})
    assert server.port == port
    unit = await _connect(server)
    assert unit.certificate_serial() == KEY_ID


async def test_unavailable_unit_gives_a_receipt_with_the_failure_marker(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer
) -> None:
    unit = await _connect(server)
    box = RksvCashbox("KASSE-1", bytes(range(32)), provider="AT0")
    start = await box.sign(ReceiptInput("1", T0, kind=ReceiptKind.START), unit)
    emulator.apply_faults({"state": "failing"})
    sale = await box.sign(
        ReceiptInput("2", T0 + timedelta(minutes=1), {TaxSet.NORMAL: Decimal("5.00")}), unit
    )
    assert sale.failed
    assert sale.signature == crypto.FAILED_SIGNATURE
    assert box.needs_zero_receipt
    result = verify_dep7(
        dep7([start, sale], [unit]), crypto_container(box.aes_key, [unit]), cashbox_id="KASSE-1"
    )
    assert result.receipts_checked == 2


async def test_bad_token_is_unavailable_with_a_clear_message(server: RemoteUnitServer) -> None:
    with pytest.raises(SignatureUnitUnavailable, match="refused the token"):
        await _connect(server, token="wrong")


async def test_bad_token_on_sign_after_restore(server: RemoteUnitServer) -> None:
    saved = (await _connect(server)).to_dict()
    unit = RemoteSignatureUnit.from_dict(saved, token="wrong")
    message, _ = await _unavailable(unit)
    assert "HTTP 401" in message and "token" in message


async def test_a_signature_that_does_not_verify_is_refused(
    emulator: RemoteUnitEmulator, server: RemoteUnitServer
) -> None:
    unit = await _connect(server)
    emulator.apply_faults({"signature": "corrupt"})
    message, _ = await _unavailable(unit)
    assert "does not verify" in message
    assert emulator.signatures == 1  # the service did answer; the unit threw it away


async def test_a_service_with_another_key_is_refused(server: RemoteUnitServer) -> None:
    saved = (await _connect(server)).to_dict()
    impostor = RemoteUnitEmulator(key_id=KEY_ID, token=TOKEN)
    async with await impostor.serve("127.0.0.1", 0) as other:
        unit = RemoteSignatureUnit.from_dict({**saved, "base_url": other.base_url}, token=TOKEN)
        message, _ = await _unavailable(unit)
        assert "does not verify" in message
        with pytest.raises(SignatureUnitUnavailable, match="another key"):
            await unit.check()


async def test_to_dict_restores_without_network_and_keeps_the_token_out(
    server: RemoteUnitServer,
) -> None:
    unit = await _connect(server)
    saved = json.loads(json.dumps(unit.to_dict()))
    assert TOKEN not in json.dumps(saved)
    await server.aclose()  # nothing listens now
    restored = RemoteSignatureUnit.from_dict(saved, token=TOKEN)
    assert restored.state is RemoteUnitState.UNKNOWN
    assert restored.certificate_serial() == unit.certificate_serial()
    assert restored.public_key_pem() == unit.public_key_pem()
    assert restored.unit_id == "hsm-1"
    assert restored.timeout == TIMEOUT
    message, _ = await _unavailable(restored)
    assert "cannot connect" in message


async def test_connect_to_nothing_is_unavailable() -> None:
    emulator = RemoteUnitEmulator(token=TOKEN)
    server = await emulator.serve("127.0.0.1", 0)
    url = server.base_url
    await server.aclose()
    with pytest.raises(SignatureUnitUnavailable, match="cannot connect"):
        await RemoteSignatureUnit.connect(url, token=TOKEN, unit_id="x", timeout=TIMEOUT)


async def test_base_path_prefix_is_kept(server: RemoteUnitServer) -> None:
    # The emulator serves at the root, so a prefix must reach it as /prefix/v1/unit -> 404.
    with pytest.raises(SignatureUnitUnavailable, match="HTTP 404"):
        await RemoteSignatureUnit.connect(
            server.base_url + "/rksv", token=TOKEN, unit_id="x", timeout=TIMEOUT
        )


def test_bad_configuration_is_refused_early() -> None:
    pem = RemoteUnitEmulator(token=TOKEN).unit.public_key_pem()

    def make(url: str, token: str, public_key_pem: str) -> RemoteSignatureUnit:
        return RemoteSignatureUnit(
            url,
            token=token,
            unit_id="x",
            certificate_serial=KEY_ID,
            certificate_pem=None,
            public_key_pem=public_key_pem,
        )

    assert make("http://h:1/", TOKEN, pem).base_url == "http://h:1"
    with pytest.raises(ValueError, match="base_url"):
        make("ftp://h/", TOKEN, pem)
    with pytest.raises(ValueError, match="token"):
        make("http://h/", "a\r\nX: y", pem)
    with pytest.raises(ValueError, match="public_key"):
        make("http://h/", TOKEN, "junk")


def test_unknown_faults_are_refused() -> None:
    emulator = RemoteUnitEmulator(token=TOKEN)
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults({"state": "melting"})
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults({"paper": "out"})
    assert emulator.state == "ok"
