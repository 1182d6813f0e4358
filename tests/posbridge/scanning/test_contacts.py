"""Contacts: mailto, tel (E.164), MECARD escaping, vCard folding and TEL forms."""

from __future__ import annotations

import pytest

from posbridge.scanning.contacts import normalize_phone, parse_contact


def test_mailto_ignores_subject_and_lowercases_domain() -> None:
    contact = parse_contact("mailto:Jane.Doe@Example.COM?subject=Hello%20there")
    assert contact is not None
    assert contact.emails == ["Jane.Doe@example.com"]
    assert contact.search_value == "Jane.Doe@example.com"


def test_mailto_percent_encoded_and_several() -> None:
    contact = parse_contact("MAILTO:a%2Bb@x.org,c@y.org")
    assert contact is not None and contact.emails == ["a+b@x.org"]


@pytest.mark.parametrize(
    ("data", "region", "e164"),
    [
        ("tel:+43-1-5134567", "AT", "+4315134567"),
        ("tel:01 5134567", "AT", "+4315134567"),
        ("tel:0664 1234567", "AT", "+436641234567"),
        ("tel:(030) 1234567", "DE", "+49301234567"),
        ("tel:+1-202-555-0143;ext=12", "AT", "+12025550143"),
    ],
)
def test_tel_to_e164(data: str, region: str, e164: str) -> None:
    contact = parse_contact(data, default_region=region)
    assert contact is not None and contact.phones == [e164]
    assert contact.search_value == e164


def test_impossible_number_is_no_contact() -> None:
    assert parse_contact("tel:12") is None
    assert normalize_phone("not a number", "AT") is None


def test_mecard_with_escapes() -> None:
    data = r"MECARD:N:O\;Brien\, Jr.,Pat;TEL:+43 664 1234567;EMAIL:pat\:o@example.com;NOTE:a\\b;;"
    contact = parse_contact(data)
    assert contact is not None
    assert contact.family_name == "O;Brien, Jr."
    assert contact.given_name == "Pat"
    assert contact.full_name == "Pat O;Brien, Jr."
    assert contact.phones == ["+436641234567"]
    assert contact.problems == ["not an email address: 'pat:o@example.com'"]
    assert contact.search_value == "+436641234567"


def test_mecard_simple() -> None:
    contact = parse_contact("MECARD:N:Doe,John;TEL:06641234567;EMAIL:john@doe.at;;")
    assert contact is not None
    assert (contact.family_name, contact.given_name) == ("Doe", "John")
    assert contact.emails == ["john@doe.at"] and contact.phones == ["+436641234567"]
    assert contact.search_value == "john@doe.at"


def test_vcard_3_folded() -> None:
    data = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Gump;Forrest;;Mr.;\r\nFN:Forrest\r\n  Gump\r\n"
        "TEL;TYPE=cell:+1-202-555-0143\r\nitem1.EMAIL;TYPE=INTERNET:forrest@exam\r\n ple.com\r\n"
        "END:VCARD\r\n"
    )
    contact = parse_contact(data)
    assert contact is not None
    assert contact.full_name == "Forrest Gump"
    assert (contact.family_name, contact.given_name) == ("Gump", "Forrest")
    assert contact.emails == ["forrest@example.com"]
    assert contact.phones == ["+12025550143"]


def test_vcard_4_tel_uri() -> None:
    data = (
        "BEGIN:VCARD\nVERSION:4.0\nFN:Anna Huber\nTEL;VALUE=uri;TYPE=\"voice,cell\":"
        "tel:+43-664-1234567\nTEL;VALUE=uri:tel:+1-202-555-0143\nEND:VCARD"
    )
    contact = parse_contact(data)
    assert contact is not None
    assert contact.phones == ["+436641234567", "+12025550143"]
    assert contact.search_value == "+436641234567"


def test_vcard_escaped_comma() -> None:
    contact = parse_contact("BEGIN:VCARD\nVERSION:3.0\nFN:Smith\\, Jane\nEND:VCARD")
    assert contact is not None and contact.full_name == "Smith, Jane"
    assert contact.search_value is None


@pytest.mark.parametrize("data", ["LOY-123", "https://example.com", "", "tel:", "BEGIN:VCALENDAR"])
def test_not_contacts(data: str) -> None:
    assert parse_contact(data) is None
