"""Splitting a ZPL byte stream into formats and immediate commands, at any chunk boundary."""

from __future__ import annotations

import pytest

from drivers.zpl._stream import (
    BrokenFormat,
    FormatBytes,
    Immediate,
    StreamEvent,
    ZplStreamSplitter,
)

ONE = b"^XA^FO10,10^A0N,30,30^FDone^FS^XZ"
TWO = b"^XA^FO10,10^A0N,30,30^FDtwo^FS^PQ2^XZ"


def feed_in_pieces(data: bytes, size: int) -> list[StreamEvent]:
    splitter = ZplStreamSplitter()
    events: list[StreamEvent] = []
    for start in range(0, len(data), size):
        events += splitter.feed(data[start : start + size])
    return events


def test_several_formats_in_one_chunk() -> None:
    events = ZplStreamSplitter().feed(ONE + b"\r\n" + TWO + b"\n")
    assert events == [FormatBytes(ONE), FormatBytes(TWO)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_any_split_gives_the_same_events(size: int) -> None:
    stream = ONE + b"~HS" + TWO + b"~SD15" + ONE.replace(b"^FS", b"~HS^FS")
    expected = [
        FormatBytes(ONE),
        Immediate("HS"),
        FormatBytes(TWO),
        Immediate("SD", "15"),
        Immediate("HS"),  # acted on at once, in the middle of the format
        FormatBytes(ONE),  # ... and taken out of it
    ]
    assert feed_in_pieces(stream, size) == expected


def test_split_inside_the_end_marker_and_a_tilde_command() -> None:
    splitter = ZplStreamSplitter()
    assert splitter.feed(b"^XA^FDa^FS^") == []
    assert splitter.in_format
    assert splitter.feed(b"X") == []
    assert splitter.feed(b"Z~") == [FormatBytes(b"^XA^FDa^FS^XZ")]
    assert not splitter.in_format
    assert splitter.feed(b"H") == []
    assert splitter.feed(b"S") == [Immediate("HS")]


def test_lowercase_commands_and_garbage_between_formats() -> None:
    events = ZplStreamSplitter().feed(b"junk ^FO1,1 \r\n^xa^FDx^FS^xz~hs")
    assert events == [FormatBytes(b"^XA^FDx^FS^xz"), Immediate("HS")]


def test_unknown_tilde_commands() -> None:
    splitter = ZplStreamSplitter()
    # Inside a format an unknown tilde command stays part of it (e.g. ~DG download).
    events = splitter.feed(b"~TA000^XA^FDa~DGb^FS^XZ")
    assert events == [FormatBytes(b"^XA^FDa~DGb^FS^XZ")]
    assert splitter.unknown_commands == ["TA"]


def test_bad_darkness_argument_is_still_an_immediate_command() -> None:
    assert ZplStreamSplitter().feed(b"~SDxx") == [Immediate("SD", "")]


def test_new_format_before_end_marks_the_old_one_broken() -> None:
    events = ZplStreamSplitter().feed(b"^XA^FDcut short" + ONE)
    assert events == [BrokenFormat(b"^XA^FDcut short", "^XA before ^XZ"), FormatBytes(ONE)]


def test_reset_forgets_a_partial_format() -> None:
    splitter = ZplStreamSplitter()
    splitter.feed(b"^XA^FDhalf")
    splitter.reset()
    assert not splitter.in_format
    assert splitter.feed(b"^XZ" + ONE) == [FormatBytes(ONE)]


def test_many_formats_in_one_megabyte_chunk_split_fast() -> None:
    import time

    stream = (ONE + b"\r\n") * 20_000
    began = time.perf_counter()
    events = ZplStreamSplitter().feed(stream)
    elapsed = time.perf_counter() - began
    assert len(events) == 20_000 and all(e == FormatBytes(ONE) for e in events)
    assert elapsed < 1.0, f"splitting took {elapsed:.2f} s"
