"""AIM symbology identifiers, symbology inference and the Scan built from a payload."""

from __future__ import annotations

import pytest

from drivers.scanner.aim import aim_for, parse_aim, symbology_from_aim
from drivers.scanner.scan import build_scan, decode_payload
from drivers.scanner.symbology import (
    Symbology,
    code_type,
    gs1_check_digit_ok,
    infer_symbology,
)

AAMVA_START = "@\n\x1e\rANSI 636014080002DL00410278ZC03190024DLDAQD1234567\n"


@pytest.mark.parametrize(
    ("wire", "aim", "rest"),
    [
        (b"]E04006381333931", "]E0", b"4006381333931"),
        (b"]E496385074", "]E4", b"96385074"),
        (b"]E112", "]E1", b"12"),
        (b"]C0ORDER-1", "]C0", b"ORDER-1"),
        (b"]C10104012345123456", "]C1", b"0104012345123456"),
        (b"]Q1https://x.example", "]Q1", b"https://x.example"),
        (b"]Q3010123", "]Q3", b"010123"),
        (b"]d2010401234512345", "]d2", b"010401234512345"),
        (b"]L2@\n\x1e\r", "]L2", b"@\n\x1e\r"),
        (b"]A0CODE39", "]A0", b"CODE39"),
        (b"]zCaztec", "]zC", b"aztec"),
        (b"]e00104012345123456", "]e0", b"0104012345123456"),
        (b"]E0", "]E0", b""),
        # Not identifiers: left alone.
        (b"4006381333931", None, b"4006381333931"),
        (b"]E", None, b"]E"),
        (b"]J0abc", None, b"]J0abc"),  # J is no ISO 15424 code character
        (b"]E-abc", None, b"]E-abc"),  # modifiers are digits or letters
        (b"]]]", None, b"]]]"),
        (b"", None, b""),
        (b"x]E0", None, b"x]E0"),
    ],
)
def test_parse_aim(wire: bytes, aim: str | None, rest: bytes) -> None:
    assert parse_aim(wire) == (aim, rest)


@pytest.mark.parametrize(
    ("aim", "data", "symbology"),
    [
        ("]E0", "4006381333931", Symbology.EAN13),
        ("]E0", "", Symbology.EAN13),
        ("]E0", "0036000291452", Symbology.UPCA),  # UPC-A widened to 13 digits
        ("]E0", "036000291452", Symbology.UPCA),  # UPC-A sent as 12 digits
        ("]E0", "01234565", Symbology.UPCE),
        ("]E4", "96385074", Symbology.EAN8),
        ("]E1", "12", Symbology.EAN13),
        ("]E2", "12345", Symbology.EAN13),
        ("]E3", "400638133393112", Symbology.EAN13),
        ("]E9", "1", Symbology.UNKNOWN),
        ("]C0", "ORDER-1", Symbology.CODE128),
        ("]C1", "0104012345123456", Symbology.GS1_128),
        ("]C2", "x", Symbology.CODE128),
        ("]Q1", "hello", Symbology.QR),
        ("]Q5", "0104012345123456", Symbology.QR),
        ("]d1", "x", Symbology.DATAMATRIX),
        ("]d2", "0104012345123456", Symbology.DATAMATRIX),
        ("]L0", "x", Symbology.PDF417),
        ("]L2", AAMVA_START, Symbology.PDF417),
        ("]A0", "ABC", Symbology.CODE39),
        ("]G0", "ABC", Symbology.CODE93),
        ("]I0", "1234", Symbology.ITF),
        ("]I1", "10012345678902", Symbology.ITF),
        ("]e0", "0104012345123456", Symbology.DATABAR),
        ("]e0", "0104012345123456" + "3103000123", Symbology.DATABAR_EXPANDED),
        ("]z0", "x", Symbology.AZTEC),
        ("]F0", "A123B", Symbology.CODABAR),
        ("]X0", "x", Symbology.UNKNOWN),
        ("]M0", "x", Symbology.UNKNOWN),
        ("E0", "x", Symbology.UNKNOWN),
    ],
)
def test_symbology_from_aim(aim: str, data: str, symbology: Symbology) -> None:
    assert symbology_from_aim(aim, data) is symbology


@pytest.mark.parametrize("symbology", list(Symbology))
def test_aim_for_round_trips(symbology: Symbology) -> None:
    sample = {
        Symbology.EAN8: "96385074",
        Symbology.EAN13: "4006381333931",
        Symbology.UPCA: "036000291452",
        Symbology.UPCE: "01234565",
        Symbology.DATABAR: "0104012345123456",
        Symbology.DATABAR_EXPANDED: "01040123451234563103000123",
    }.get(symbology, "PAYLOAD")
    identifier = aim_for(symbology)
    assert parse_aim(identifier.encode())[0] == identifier
    assert symbology_from_aim(identifier, sample) is symbology


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("4006381333931", True),
        ("4006381333932", False),
        ("96385074", True),
        ("96385075", False),
        ("036000291452", True),
        ("036000291453", False),
        ("10012345678902", True),
        ("5", False),
        ("12a4", False),
        ("４００６３８１３３３９３１", False),  # full-width digits are no GTIN
    ],
)
def test_gs1_check_digit(digits: str, ok: bool) -> None:
    assert gs1_check_digit_ok(digits) is ok


@pytest.mark.parametrize(
    ("data", "symbology"),
    [
        ("4006381333931", Symbology.EAN13),
        ("4006381333932", Symbology.UNKNOWN),  # wrong check digit
        ("96385074", Symbology.EAN8),
        ("96385073", Symbology.UNKNOWN),
        ("036000291452", Symbology.UPCA),
        ("036000291459", Symbology.UNKNOWN),
        ("0036000291452", Symbology.UPCA),  # EAN-13 with a leading 0 is UPC-A
        ("10012345678902", Symbology.UNKNOWN),  # GTIN-14: ITF-14 or GS1-128?
        ("1234567", Symbology.UNKNOWN),
        (AAMVA_START, Symbology.PDF417),
        ("@\n\x1c\rANSI 6360", Symbology.PDF417),
        ("@\nANSI ", Symbology.UNKNOWN),
        ("https://example.com/r/1", Symbology.QR),
        ("HTTPS://EXAMPLE.COM/R/1", Symbology.QR),
        ("http://x", Symbology.QR),
        ("mailto:a@b.c", Symbology.QR),
        ("BEGIN:VCARD\nVERSION:3.0", Symbology.QR),
        ("WIFI:S:shop;T:WPA;P:secret;;", Symbology.QR),
        ("MECARD:N:Doe,Jane;;", Symbology.QR),
        ("BCD\n002\n1\nSCT\n", Symbology.QR),
        ("www.example.com", Symbology.UNKNOWN),
        ("ORDER-12345", Symbology.UNKNOWN),
        ("", Symbology.UNKNOWN),
    ],
)
def test_infer_symbology(data: str, symbology: Symbology) -> None:
    assert infer_symbology(data) is symbology


def test_decode_payload_utf8_then_latin1() -> None:
    assert decode_payload("Grüße".encode()) == "Grüße"
    assert decode_payload("Grüße".encode("latin-1")) == "Grüße"
    assert decode_payload(b"\xff\xfe") == "\xff\xfe"


def test_build_scan_with_and_without_aim() -> None:
    scan = build_scan(b"]E04006381333931\r", b"]E04006381333931", "serial")
    assert scan.data == "4006381333931"
    assert scan.aim == "]E0"
    assert scan.symbology is Symbology.EAN13
    assert scan.code_type == code_type(Symbology.EAN13) == 16
    assert scan.raw == b"]E04006381333931\r"
    assert scan.source == "serial"

    inferred = build_scan(b"036000291452\r", b"036000291452", "wedge")
    assert (inferred.aim, inferred.symbology, inferred.code_type) == (None, Symbology.UPCA, 32)

    # With AIM handling off the identifier stays in the data.
    kept = build_scan(b"]C0X", b"]C0X", "serial", aim=False)
    assert (kept.data, kept.aim, kept.symbology) == ("]C0X", None, Symbology.UNKNOWN)

    # ]X0 names no symbology: inference still applies.
    other = build_scan(b"]X09780306406157", b"]X09780306406157", "serial")
    assert (other.aim, other.symbology) == ("]X0", Symbology.EAN13)
