"""``~HS`` host status: parsing real-looking replies, every flag, malformed replies."""

from __future__ import annotations

import pytest

from drivers.errors import ProtocolError
from drivers.zpl.status import LabelStatus, host_status_reply, parse_host_status

# What a ZD420 at 203 dpi with a 3 in label answers when idle.
IDLE = (
    b"\x02030,0,0,0609,000,0,0,0,000,0,0,0\x03\r\n"
    b"\x02001,0,0,0,0,2,6,0,00000000,1,000\x03\r\n"
    b"\x021234,0\x03\r\n"
)


def reply(line1: str, line2: str, line3: str = "1234,0") -> bytes:
    return b"".join(b"\x02" + line.encode() + b"\x03\r\n" for line in (line1, line2, line3))


def test_idle_printer() -> None:
    status = parse_host_status(IDLE)
    assert status == LabelStatus(label_length_dots=609, raw=IDLE)
    assert status.raw == IDLE
    assert status.blocking_reason is None
    assert status.warnings == []
    assert status.idle


OK1 = "030,0,0,0609,000,0,0,0,000,0,0,0"
OK2 = "001,0,0,0,0,2,6,0,00000000,1,000"


def put(line: str, index: int, value: str) -> str:
    """``line`` with field ``index`` (0-based) replaced by ``value``."""
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("line1", "line2", "attribute", "reason"),
    [
        (put(OK1, 1, "1"), OK2, "media_out", "media_out"),
        (put(OK1, 2, "1"), OK2, "paused", "paused"),
        (OK1, put(OK2, 2, "1"), "head_open", "head_open"),
        (OK1, put(OK2, 3, "1"), "ribbon_out", "ribbon_out"),
        (put(OK1, 11, "1"), OK2, "over_temperature", "over_temperature"),
    ],
)
def test_each_blocking_flag(line1: str, line2: str, attribute: str, reason: str) -> None:
    status = parse_host_status(reply(line1, line2))
    assert getattr(status, attribute) is True
    others = {"media_out", "paused", "head_open", "ribbon_out", "over_temperature"} - {attribute}
    assert not any(getattr(status, name) for name in others)
    assert status.blocking_reason == reason


@pytest.mark.parametrize(
    ("line1", "attribute", "warning"),
    [
        (put(OK1, 5, "1"), "buffer_full", "buffer_full"),
        (put(OK1, 10, "1"), "under_temperature", "under_temperature"),
        (put(OK1, 9, "1"), "corrupt_ram", "corrupt_ram"),
    ],
)
def test_warnings_do_not_block(line1: str, attribute: str, warning: str) -> None:
    status = parse_host_status(reply(line1, OK2))
    assert getattr(status, attribute) is True
    assert status.warnings == [warning]
    assert status.blocking_reason is None


def test_counters_and_partial_format() -> None:
    status = parse_host_status(
        reply("030,0,0,1218,012,0,0,1,000,0,0,0", "001,0,0,0,1,2,6,1,00000034,1,002")
    )
    assert status.label_length_dots == 1218
    assert status.formats_in_buffer == 12
    assert status.labels_remaining == 34
    assert status.partial_format and status.thermal_transfer and status.label_waiting
    assert not status.idle


def test_cause_is_named_before_pause() -> None:
    # A Zebra pauses itself when media runs out: the reason shown is the media.
    status = parse_host_status(
        reply("030,1,1,0609,000,0,0,0,000,0,0,0", "001,0,1,0,0,2,6,0,00000000,1,000")
    )
    assert status.blocking_reason == "media_out"


def test_extra_fields_from_newer_firmware_are_tolerated() -> None:
    status = parse_host_status(
        reply("030,0,1,0609,000,0,0,0,000,0,0,0,9", "001,0,0,0,0,2,6,0,00000000,1,000,7")
    )
    assert status.paused


def test_reply_without_trailing_crlf() -> None:
    assert parse_host_status(IDLE.rstrip(b"\r\n")).label_length_dots == 609


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "0 lines"),
        (IDLE[: IDLE.index(b"\x021234")], "2 lines"),
        (IDLE + b"\x021234,0\x03\r\n", "4 lines"),
        (IDLE[:-4], "line 3 has no ETX"),
        (b"xx" + IDLE, "unexpected byte 0x78"),
        (IDLE.replace(b"\x02001,", b"\x02\x02001,"), "cut short"),
        (reply(OK1.rsplit(",", 1)[0], OK2), "line 1 has 11 fields"),
        (reply(OK1, OK2.rsplit(",", 1)[0]), "line 2 has 10 fields"),
        (reply(put(OK1, 1, "2"), OK2), "paper out flag"),
        (reply(put(OK1, 3, "06x9"), OK2), "label length"),
        (reply(OK1, put(OK2, 2, "Y")), "head up flag"),
        (reply(OK1, put(OK2, 8, "0000-001")), "labels remaining"),
        (reply(OK1, OK2, "1234"), "line 3 has 1 fields"),
        (IDLE.replace(b"030", "0\u00e90".encode("latin-1")), "not ASCII"),
    ],
)
def test_malformed_replies_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_host_status(data)


def test_host_status_reply_round_trips() -> None:
    data = host_status_reply(
        media_out=True,
        paused=True,
        label_length_dots=812,
        formats_in_buffer=3,
        buffer_full=True,
        partial_format=True,
        head_open=True,
        ribbon_out=True,
        thermal_transfer=True,
        labels_remaining=17,
        under_temperature=True,
        over_temperature=True,
        corrupt_ram=True,
    )
    status = parse_host_status(data)
    assert status == LabelStatus(
        media_out=True,
        paused=True,
        head_open=True,
        ribbon_out=True,
        buffer_full=True,
        formats_in_buffer=3,
        labels_remaining=17,
        label_length_dots=812,
        under_temperature=True,
        over_temperature=True,
        corrupt_ram=True,
        raw=data,
        partial_format=True,
        thermal_transfer=True,
    )


def test_host_status_reply_is_byte_exact() -> None:
    assert host_status_reply(label_length_dots=609) == IDLE
    clamped = parse_host_status(host_status_reply(formats_in_buffer=5000, labels_remaining=10**9))
    assert clamped.formats_in_buffer == 999
    assert clamped.labels_remaining == 99_999_999
