"""AAMVA DL/ID payloads of several versions, built by hand from the annex D layout."""

from __future__ import annotations

import random
from datetime import date

import pytest

from posbridge.scanning.aamva import looks_like_aamva, parse_aamva

TODAY = date(2025, 6, 15)


def build_aamva(
    version: int,
    subfiles: list[tuple[str, dict[str, str]]],
    *,
    iin: str = "636000",
    jurisdiction_version: int = 1,
    file_type: str = "ANSI ",
    separators: str = "\n\x1e\r",
) -> str:
    """A complete payload: header, subfile directory with true offsets/lengths, subfiles."""
    element_sep, terminator = separators[0], separators[2]
    header = "@" + separators + file_type + iin + f"{version:02d}"
    if version >= 2:
        header += f"{jurisdiction_version:02d}"
    header += f"{len(subfiles):02d}"
    bodies = [
        kind + element_sep.join(k + v for k, v in elements.items()) + terminator
        for kind, elements in subfiles
    ]
    offset = len(header) + 10 * len(subfiles)
    directory = ""
    for (kind, _), body in zip(subfiles, bodies, strict=True):
        directory += f"{kind}{offset:04d}{len(body):04d}"
        offset += len(body)
    return header + directory + "".join(bodies)


V10 = build_aamva(
    10,
    [
        (
            "DL",
            {
                "DAQ": "T64235789",
                "DCS": "SAMPLE",
                "DDE": "N",
                "DAC": "MICHAEL",
                "DAD": "JOHN",
                "DBD": "06062019",
                "DBB": "06061986",
                "DBA": "12102024",
                "DBC": "1",
                "DAG": "2300 WEST BROAD STREET",
                "DAI": "RICHMOND",
                "DAJ": "VA",
                "DAK": "232690000  ",
                "DCG": "USA",
            },
        ),
        ("ZV", {"ZVA": "01"}),
    ],
    iin="636000",
)
V9_CANADA = build_aamva(
    9,
    [
        (
            "DL",
            {
                "DAQ": "A1234-56789-01234",
                "DCS": "TREMBLAY",
                "DAC": "MARIE",
                "DAD": "CLAIRE",
                "DBB": "19920229",
                "DBA": "20300131",
                "DBD": "20220131",
                "DBC": "2",
                "DAG": "100 RUE PRINCIPALE",
                "DAH": "APP 4",
                "DAI": "QUEBEC",
                "DAJ": "QC",
                "DAK": "G1R 4P5",
                "DCG": "CAN",
            },
        )
    ],
    iin="604428",
    jurisdiction_version=0,
    separators="\n\x1c\r",  # some issuers use FS instead of RS
)
V8 = build_aamva(
    8,
    [
        (
            "ID",
            {
                "DAQ": "ID998877",
                "DCS": "NGUYEN",
                "DAC": "AN",
                "DBB": "07042010",
                "DBA": "07042028",
                "DBC": "9",
                "DAG": "1 MAIN ST",
                "DAI": "AUSTIN",
                "DAJ": "TX",
                "DAK": "787010001",
            },
        )
    ],
    iin="636015",
)
V4 = build_aamva(
    4,
    [("DL", {"DAQ": "D4", "DCS": "ROE", "DAC": "RICHARD", "DBB": "01311970", "DBA": "01312020"})],
)
V3 = build_aamva(
    3,
    [
        (
            "DL",
            {
                "DAQ": "V3-555",
                "DCS": "PUBLIC",
                "DCT": "JOHN,QUINCY",
                "DBB": "12251975",
                "DBA": "12252030",
                "DBC": "1",
                "DAI": "ALBANY",
                "DAJ": "NY",
            },
        )
    ],
    iin="636001",
)
V1 = build_aamva(
    1,
    [
        (
            "DL",
            {
                "DAQ": "V1-0001",
                "DAA": "DOE,JANE,ANN",
                "DBB": "19800315",
                "DBA": "20260315",
                "DBC": "F",
                "DAG": "742 EVERGREEN TER",
                "DAI": "SPRINGFIELD",
                "DAJ": "OR",
                "DAK": "97403",
            },
        )
    ],
    iin="636029",
    file_type="AAMVA",
)
SAMPLES = {"v10": V10, "v9": V9_CANADA, "v8": V8, "v4": V4, "v3": V3, "v1": V1}


def test_header_helper_matches_published_example() -> None:
    # The directory of the AAMVA 2020 example: DL at 41, 2 entries, version 10, jv 01.
    assert V10.startswith("@\n\x1e\rANSI 636000100102DL0041")


def test_version_10() -> None:
    doc = parse_aamva(V10, today=TODAY)
    assert doc.problems == []
    assert (doc.issuer, doc.version, doc.jurisdiction_version) == ("636000", 10, 1)
    assert (doc.document_type, doc.document_number) == ("DL", "T64235789")
    assert (doc.family_name, doc.given_name, doc.middle_name) == ("SAMPLE", "MICHAEL", "JOHN")
    assert doc.birth_date == date(1986, 6, 6)
    assert doc.expiry_date == date(2024, 12, 10)
    assert doc.issue_date == date(2019, 6, 6)
    assert doc.age == 39
    assert doc.expired is True
    assert doc.sex == "M"
    assert doc.address.street == "2300 WEST BROAD STREET"
    assert (doc.address.city, doc.address.state, doc.address.postal_code) == (
        "RICHMOND",
        "VA",
        "23269",
    )
    assert doc.country == "USA"


def test_version_9_canada_dates_year_first_and_fs_separator() -> None:
    doc = parse_aamva(V9_CANADA, today=date(2025, 2, 28))
    assert doc.problems == []
    assert doc.birth_date == date(1992, 2, 29)
    assert doc.age == 32  # 29 February birthday: a year older on 1 March
    assert parse_aamva(V9_CANADA, today=date(2025, 3, 1)).age == 33
    assert doc.expired is False
    assert doc.sex == "F"
    assert (doc.address.street2, doc.address.postal_code, doc.country) == (
        "APP 4",
        "G1R 4P5",
        "CAN",
    )


def test_version_8_id_card_zip_plus_four() -> None:
    doc = parse_aamva(V8, today=TODAY)
    assert doc.problems == []
    assert doc.document_type == "ID"
    assert doc.age == 14
    assert doc.sex == "not_specified"
    assert doc.address.postal_code == "78701-0001"
    assert doc.country == "USA"  # no DCG: from the US issuer number


def test_version_4() -> None:
    doc = parse_aamva(V4, today=TODAY)
    assert (doc.family_name, doc.given_name, doc.middle_name) == ("ROE", "RICHARD", None)
    assert doc.expiry_date == date(2020, 1, 31) and doc.expired
    assert doc.age == 55


def test_version_3_given_names_in_dct() -> None:
    doc = parse_aamva(V3, today=TODAY)
    assert doc.problems == []
    assert (doc.family_name, doc.given_name, doc.middle_name) == ("PUBLIC", "JOHN", "QUINCY")
    assert doc.birth_date == date(1975, 12, 25)


def test_version_1_full_name_and_year_first_dates() -> None:
    doc = parse_aamva(V1, today=TODAY)
    assert doc.problems == []
    assert (doc.version, doc.jurisdiction_version) == (1, None)
    assert (doc.family_name, doc.given_name, doc.middle_name) == ("DOE", "JANE", "ANN")
    assert doc.birth_date == date(1980, 3, 15)
    assert doc.age == 45
    assert doc.sex == "F"
    assert not doc.expired


def test_wrong_offset_is_recovered() -> None:
    broken = V4.replace("DL0031", "DL0029")
    assert broken != V4
    doc = parse_aamva(broken, today=TODAY)
    assert doc.family_name == "ROE"


def test_bad_values_are_problems() -> None:
    elements = {"DAQ": "X", "DCS": "A", "DAC": "B", "DBB": "13452000", "DBC": "7"}
    data = build_aamva(10, [("DL", elements)])
    doc = parse_aamva(data, today=TODAY)
    assert doc.birth_date is None and doc.age is None
    assert any("DBB" in p for p in doc.problems)
    assert any("DBC" in p for p in doc.problems)


def test_truncated_gives_partial_result() -> None:
    cut = V10[: V10.index("DBA")]
    doc = parse_aamva(cut, today=TODAY)
    assert doc.family_name == "SAMPLE" and doc.birth_date == date(1986, 6, 6)
    assert doc.expiry_date is None
    assert any("truncated" in p for p in doc.problems)


def test_keyboard_wedge_lost_separators() -> None:
    wedge = V10.replace("\n", "").replace("\r", "").replace("\x1e", "")
    doc = parse_aamva(wedge, today=TODAY)
    assert doc.issuer == "636000"
    assert doc.problems


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_truncation_and_some_garbling_never_raises(name: str) -> None:
    sample = SAMPLES[name]
    assert looks_like_aamva(sample)
    for end in range(len(sample) + 1):
        result = parse_aamva(sample[:end], today=TODAY)
        if end < len(sample):
            assert result.problems or result.document_number is not None or end == 0
    chooser = random.Random(name)
    for _ in range(300):
        chars = list(sample)
        for _ in range(chooser.randint(1, 5)):
            garbage = chr(chooser.choice([0, 10, 13, 30, 48, 65, 0x1F600]))
            chars[chooser.randrange(len(chars))] = garbage
        parse_aamva("".join(chars), today=TODAY)


def test_not_aamva() -> None:
    assert not looks_like_aamva("LOY-12345678")
    doc = parse_aamva("hello", today=TODAY)
    assert doc.problems and doc.document_number is None
