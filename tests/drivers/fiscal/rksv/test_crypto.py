"""Byte-level checks of the RKSV crypto helpers against independent constructions."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drivers.fiscal.rksv import crypto

KEY = bytes(range(32))


def _ecb_reference(turnover: int, key: bytes, iv: bytes, length: int) -> str:
    """The reference's ``CryptoUtil.encryptECB``: AES-ECB(IV) XOR the counter bytes."""
    block = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(iv)
    plain = turnover.to_bytes(length, "big", signed=True)
    return base64.b64encode(bytes(a ^ b for a, b in zip(plain, block, strict=False))).decode()


def test_iv_is_first_16_bytes_of_sha256_over_cashbox_and_receipt_id() -> None:
    expected = hashlib.sha256(b"KASSE-1Beleg-7").digest()[:16]
    assert crypto.turnover_iv("KASSE-1", "Beleg-7") == expected
    assert crypto.turnover_iv("KASSE-Ä", "1") == hashlib.sha256("KASSE-Ä1".encode()).digest()[:16]


@pytest.mark.parametrize("turnover", [0, 1, 12345, -500, 2**39 - 1, -(2**39)])
@pytest.mark.parametrize("length", [5, 8, 16])
def test_icm_matches_the_ecb_construction_and_round_trips(turnover: int, length: int) -> None:
    iv = crypto.turnover_iv("CASHBOX", "R-1")
    encrypted = crypto.encrypt_turnover(turnover, KEY, "CASHBOX", "R-1", length)
    assert encrypted == _ecb_reference(turnover, KEY, iv, length)
    assert len(base64.b64decode(encrypted)) == length
    assert crypto.decrypt_turnover(encrypted, KEY, "CASHBOX", "R-1") == turnover


def test_counter_depends_on_receipt_id_and_key() -> None:
    one = crypto.encrypt_turnover(100, KEY, "C", "1")
    assert one != crypto.encrypt_turnover(100, KEY, "C", "2")
    assert crypto.decrypt_turnover(one, bytes(32), "C", "1") != 100


def test_counter_length_and_range_are_checked() -> None:
    with pytest.raises(ValueError, match="5..16"):
        crypto.encrypt_turnover(1, KEY, "C", "1", length=4)
    with pytest.raises(ValueError, match="does not fit"):
        crypto.encrypt_turnover(2**40, KEY, "C", "1", length=5)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.encrypt_turnover(1, KEY[:16], "C", "1")
    with pytest.raises(ValueError, match="5..16"):
        crypto.decrypt_turnover(base64.b64encode(b"abc").decode(), KEY, "C", "1")


def test_chain_value_hashes_previous_jws_or_cashbox_id() -> None:
    start = base64.b64encode(hashlib.sha256(b"KASSE-1").digest()[:8]).decode()
    assert crypto.chain_value(None, "KASSE-1") == start
    nxt = base64.b64encode(hashlib.sha256(b"a.b.c").digest()[:8]).decode()
    assert crypto.chain_value("a.b.c", "KASSE-1") == nxt


def test_markers_and_header_are_the_literal_values() -> None:
    assert base64.b64decode(crypto.TRAINING_MARKER) == b"TRA"
    assert base64.b64decode(crypto.STORNO_MARKER) == b"STO"
    header = json.loads(crypto.b64url_decode(crypto.JWS_HEADER_ES256))
    assert header == {"alg": "ES256"}


def test_base64url_has_no_padding_and_refuses_it() -> None:
    assert crypto.b64url_encode(b"ab") == "YWI"
    assert crypto.b64url_decode("YWI") == b"ab"
    assert crypto.b64url_decode(crypto.b64url_encode(b"\xfb\xff")) == b"\xfb\xff"
    with pytest.raises(ValueError):
        crypto.b64url_decode("YWI=")
    with pytest.raises(ValueError):
        crypto.b64decode("not base64!")


def test_es256_signs_raw_r_s_that_verify() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    data = crypto.jws_signing_input("_R1-AT0_payload")
    signature = crypto.es256_sign(key, data)
    assert len(signature) == 64
    assert crypto.es256_verify(key.public_key(), data, signature)
    assert not crypto.es256_verify(key.public_key(), data + b"x", signature)
    assert not crypto.es256_verify(key.public_key(), data, signature[:-1])
    assert crypto.der_to_raw(crypto.raw_to_der(signature)) == signature


def test_jws_compact_joins_three_base64url_parts() -> None:
    data = crypto.jws_signing_input("_R1-AT0_x")
    jws = crypto.jws_compact(data, crypto.FAILED_SIGNATURE)
    header, payload, signature = jws.split(".")
    assert header == crypto.JWS_HEADER_ES256
    assert crypto.b64url_decode(payload) == b"_R1-AT0_x"
    assert crypto.b64url_decode(signature) == b"Sicherheitseinrichtung ausgefallen"
