"""ScanFramer: scans cut out of a byte stream split anywhere, by suffix or by silence,
with prefixes, AIM ids and AAMVA ID documents that carry CR/LF inside their data."""

from __future__ import annotations

import pytest

from drivers.scanner.framing import (
    MAX_SCAN_BYTES,
    Framing,
    ScanFramer,
    Terminator,
    aamva_length,
)
from drivers.scanner.scan import Scan
from drivers.scanner.symbology import Symbology

GAP = 0.05


def aamva_document(*, damaged: bool = False) -> bytes:
    """A small AAMVA 2016 (version 08) DL document with a DL and a ZC subfile, its
    directory offsets and lengths computed as a card issuer would."""
    dl = b"DLDAQD1234567\nDCSSAMPLE\nDACJANE\nDBB01311990\nDAJCA\nDAQ\r\n\nDCK123\r"
    zc = b"ZCZCAXYZ\nZCBSAMPLE\r"
    header_len = len(b"@\n\x1e\rANSI ") + 6 + 2 + 2 + 2 + 2 * 10
    dl_at, zc_at = header_len, header_len + len(dl)
    header = (
        b"@\n\x1e\rANSI 636014"
        + b"08"  # AAMVA version
        + b"00"  # jurisdiction version
        + b"02"  # number of entries
        + b"DL%04d%04d" % (dl_at, len(dl))
        + b"ZC%04d%04d" % (zc_at, len(zc))
    )
    if damaged:
        header = header.replace(b"DL0041", b"DL00x1")
    assert len(header) == header_len
    return header + dl + zc


def feed_all(framer: ScanFramer, chunks: list[bytes], t0: float = 0.0) -> list[Scan]:
    """Feed chunks 1 ms apart (well inside the gap)."""
    scans: list[Scan] = []
    for i, chunk in enumerate(chunks):
        scans += framer.feed(chunk, t0 + i * 0.001)
    return scans


def splits(wire: bytes) -> list[list[bytes]]:
    """Every two-chunk split of ``wire``, plus byte-by-byte."""
    out = [[wire[:i], wire[i:]] for i in range(1, len(wire))]
    out.append([wire[i : i + 1] for i in range(len(wire))])
    return out


def test_aamva_length_reads_the_directory() -> None:
    doc = aamva_document()
    assert aamva_length(doc) == len(doc)
    assert aamva_length(doc[:30]) is None  # header incomplete
    assert aamva_length(aamva_document(damaged=True)) == -1
    shifted = b"]L2" + doc
    assert aamva_length(shifted, 3) == len(doc)


@pytest.mark.parametrize("suffix", [Terminator.CR, Terminator.LF, Terminator.CRLF, Terminator.TAB])
def test_each_terminator_split_anywhere(suffix: Terminator) -> None:
    wire = b"]E04006381333931" + suffix.wire + b"]C0ORDER-12345" + suffix.wire
    for chunks in splits(wire):
        framer = ScanFramer(Framing(suffix=suffix))
        scans = feed_all(framer, chunks)
        assert [(s.data, s.symbology, s.aim) for s in scans] == [
            ("4006381333931", Symbology.EAN13, "]E0"),
            ("ORDER-12345", Symbology.CODE128, "]C0"),
        ], chunks
        assert b"".join(s.raw for s in scans) == wire
        assert not framer.pending


def test_many_scans_in_one_chunk_keep_their_order() -> None:
    framer = ScanFramer(Framing())
    wire = b"".join(b"]C0ITEM-%d\r" % n for n in range(500))
    scans = framer.feed(wire, 0.0)
    assert [s.data for s in scans] == [f"ITEM-{n}" for n in range(500)]


def test_prefix_is_stripped_when_present() -> None:
    framer = ScanFramer(Framing(prefix=b"\x02", suffix=Terminator.CRLF))
    wire = b"\x02]E04006381333931\r\n" + b"NOPREFIX\r\n" + b"\x02]Q1https://a.example/x\r\n"
    for chunks in splits(wire):
        framer = ScanFramer(Framing(prefix=b"\x02", suffix=Terminator.CRLF))
        scans = feed_all(framer, chunks)
        assert [(s.data, s.aim, s.symbology) for s in scans] == [
            ("4006381333931", "]E0", Symbology.EAN13),
            ("NOPREFIX", None, Symbology.UNKNOWN),
            ("https://a.example/x", "]Q1", Symbology.QR),
        ]
        assert scans[0].raw == b"\x02]E04006381333931\r\n"


def test_multi_byte_prefix_split_across_chunks() -> None:
    framing = Framing(prefix=b"SCN:", aim=False)
    framer = ScanFramer(framing)
    assert feed_all(framer, [b"SC", b"N:4006381333931", b"\r"]) == [
        Scan(
            data="4006381333931",
            raw=b"SCN:4006381333931\r",
            symbology=Symbology.EAN13,
            aim=None,
            code_type=16,
            source="serial",
        )
    ]


def test_aim_off_keeps_identifier_in_data() -> None:
    framer = ScanFramer(Framing(aim=False))
    [scan] = framer.feed(b"]E04006381333931\r", 0.0)
    assert scan.data == "]E04006381333931"
    assert scan.aim is None


def test_suffix_none_ends_scans_by_silence() -> None:
    framer = ScanFramer(Framing(suffix=Terminator.NONE, gap_s=GAP))
    assert framer.feed(b"]E0400638", 0.0) == []
    assert framer.feed(b"1333931", 0.01) == []
    assert framer.flush(0.01 + GAP / 2) == []
    assert framer.deadline == pytest.approx(0.01 + GAP)
    [scan] = framer.flush(0.01 + GAP)
    assert (scan.data, scan.symbology) == ("4006381333931", Symbology.EAN13)
    assert framer.deadline is None
    # A pause before the next chunk also ends the pending scan, inside feed.
    assert framer.feed(b"96385074", 1.0) == []
    [first] = framer.feed(b"036000291452", 1.2)
    assert first.data == "96385074"
    [second] = framer.flush(1.3)
    assert (second.data, second.symbology) == ("036000291452", Symbology.UPCA)


def test_gap_is_a_safety_net_when_the_suffix_is_missing() -> None:
    framer = ScanFramer(Framing(suffix=Terminator.CR, gap_s=GAP))
    assert framer.feed(b"]C0LOST-SUFFIX", 0.0) == []
    [lost, ok] = framer.feed(b"]C0NEXT\r", 0.5)
    assert (lost.data, ok.data) == ("LOST-SUFFIX", "NEXT")


def test_half_a_crlf_suffix_is_stripped_at_the_gap() -> None:
    framer = ScanFramer(Framing(suffix=Terminator.CRLF))
    assert framer.feed(b"ABC\r", 0.0) == []
    [scan] = framer.flush(1.0)
    assert scan.data == "ABC"
    assert scan.raw == b"ABC\r"


def test_control_characters_inside_data_are_kept() -> None:
    framer = ScanFramer(Framing(suffix=Terminator.CR))
    [scan] = framer.feed(b"]C1010401234512345610ABC\x1d17250101\r", 0.0)
    assert scan.data == "010401234512345610ABC\x1d17250101"
    assert scan.symbology is Symbology.GS1_128


def test_empty_frames_are_dropped() -> None:
    framer = ScanFramer(Framing())
    assert [s.data for s in framer.feed(b"\r\rA\r\r", 0.0)] == ["A"]


@pytest.mark.parametrize("suffix", [Terminator.CR, Terminator.LF, Terminator.CRLF, Terminator.TAB])
@pytest.mark.parametrize("aim", [True, False])
def test_aamva_document_survives_intact(suffix: Terminator, aim: bool) -> None:
    doc = aamva_document()
    identifier = b"]L2" if aim else b""
    wire = identifier + doc + suffix.wire + b"]E04006381333931" + suffix.wire
    for chunks in splits(wire)[::7] + [splits(wire)[-1]]:
        framer = ScanFramer(Framing(suffix=suffix, aim=True))
        scans = feed_all(framer, chunks)
        assert len(scans) == 2, chunks
        id_scan, ean = scans
        assert id_scan.data == doc.decode()
        assert id_scan.symbology is Symbology.PDF417
        assert id_scan.code_type == 2048
        assert id_scan.aim == ("]L2" if aim else None)
        assert id_scan.raw == identifier + doc + suffix.wire
        assert ean.data == "4006381333931"
        assert not framer.pending


def test_aamva_with_damaged_header_ends_at_the_gap() -> None:
    doc = aamva_document(damaged=True)
    framer = ScanFramer(Framing(suffix=Terminator.CR, gap_s=GAP))
    assert feed_all(framer, [doc[:50], doc[50:], b"\r"]) == []
    [scan] = framer.flush(1.0)
    assert scan.data == doc.decode()
    assert scan.symbology is Symbology.PDF417


def test_aamva_announcing_more_than_it_sends_ends_at_the_gap() -> None:
    doc = aamva_document()
    short = doc[:-5] + b"\r"  # the last subfile lost bytes: the directory overstates it
    framer = ScanFramer(Framing(suffix=Terminator.CR, gap_s=GAP))
    assert framer.feed(short + b"\r", 0.0) == []
    [scan] = framer.flush(GAP)
    assert scan.data == short.decode()


def test_a_lone_at_sign_with_lf_suffix_waits_then_resolves() -> None:
    framer = ScanFramer(Framing(suffix=Terminator.LF, gap_s=GAP))
    # "@" LF might be the start of an ID document: it is held back...
    assert framer.feed(b"@\n", 0.0) == []
    # ...until the next bytes show it was not,
    assert [s.data for s in framer.feed(b"X\n", 0.01)] == ["@", "X"]
    # or silence says so.
    assert framer.feed(b"@\n", 1.0) == []
    assert [s.data for s in framer.flush(1.0 + GAP)] == ["@"]


def test_overlong_garbage_is_handed_over_not_buffered_forever() -> None:
    framer = ScanFramer(Framing(suffix=Terminator.CR))
    scans = framer.feed(b"x" * (MAX_SCAN_BYTES + 10), 0.0)
    assert len(scans) == 1
    assert len(scans[0].data) == MAX_SCAN_BYTES + 10
    assert not framer.pending


def test_reset_drops_half_a_scan() -> None:
    framer = ScanFramer(Framing())
    framer.feed(b"]C0HALF", 0.0)
    framer.reset()
    assert framer.flush(10.0) == []
    assert [s.data for s in framer.feed(b"]C0WHOLE\r", 10.0)] == ["WHOLE"]


def test_source_is_passed_through() -> None:
    framer = ScanFramer(Framing(), source="hid")
    [scan] = framer.feed(b"A\r", 0.0)
    assert scan.source == "hid"


def test_framing_is_cheap() -> None:
    """The daemon handles 1,000+ scans per second; the framer must be far below that."""
    import time

    framer = ScanFramer(Framing())
    wire = b"]E04006381333931\r"
    began = time.perf_counter()
    for n in range(20_000):
        framer.feed(wire, n * 0.001)
    per_scan = (time.perf_counter() - began) / 20_000
    assert per_scan < 100e-6
