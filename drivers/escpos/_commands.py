"""How long each ESC/POS command is, so a byte stream split anywhere can be cut into whole
commands.

``command_length`` looks only at the bytes: it tells how many bytes the command at the start
of a buffer takes, or that the buffer does not hold all of it yet. It knows nothing of what
a command does; ``is_status_command`` picks out the real-time commands a printer answers
even while it holds print data.
"""

from __future__ import annotations

import re

__all__ = ["DC4", "DLE", "ENQ", "EOT", "ESC", "FS", "GS", "command_length", "is_status_command"]

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
EOT, ENQ, DC4 = 0x04, 0x05, 0x14

# Fixed-length commands: second byte -> total length. Longer forms are computed below.
_ESC_FIXED: dict[int, int] = {
    **{c: 2 for c in b"@2<imLSv\x0c"},
    **{c: 3 for c in b"!EG-Mat{dJe3A+rRVU =%?TuK"},
    **{c: 4 for c in b"$\\Bc"},
    ord("p"): 5,
    ord("W"): 10,
}
_GS_FIXED: dict[int, int] = {
    **{c: 2 for c in b":"},
    **{c: 3 for c in b"!BHfhwarIb|T/jE"},
    **{c: 4 for c in b"LWP$\\"},
    ord("^"): 5,
}
_FS_FIXED: dict[int, int] = {
    **{c: 2 for c in b".&"},
    **{c: 3 for c in b"C!-W"},
    ord("p"): 4,
}
_DC4_LENGTHS: dict[int, int] = {1: 5, 2: 5, 3: 5, 7: 4, 8: 10}

# GS V m: these cut modes carry a feed amount byte after m.
_FEED_THEN_CUT_MODES = {65, 66, 97, 98, 103, 104}


def _length(buf: bytearray, n: int) -> int | None:
    """``n`` if the buffer holds that many bytes yet, else None (wait for more)."""
    return n if len(buf) >= n else None


def _nul_terminated(buf: bytearray, start: int) -> int | None:
    end = buf.find(0, start)
    return None if end < 0 else end + 1


def _esc_length(buf: bytearray) -> int | None:
    if len(buf) < 2:
        return None
    c = buf[1]
    if c in _ESC_FIXED:
        return _length(buf, _ESC_FIXED[c])
    if c == ord("*"):  # ESC * m nL nH d1..dk
        if len(buf) < 5:
            return None
        columns = buf[3] | buf[4] << 8
        per_column = 1 if buf[2] in (0, 1) else 3
        return _length(buf, 5 + columns * per_column)
    if c == ord("("):  # ESC ( fn pL pH ...
        if len(buf) < 5:
            return None
        return _length(buf, 5 + (buf[3] | buf[4] << 8))
    if c == ord("D"):  # tab positions, NUL-terminated
        return _nul_terminated(buf, 2)
    if c == ord("&"):  # ESC & y c1 c2 [x d1..d(y*x)]...
        if len(buf) < 5:
            return None
        rows, first, last = buf[2], buf[3], buf[4]
        pos = 5
        for _ in range(max(0, last - first + 1)):
            if len(buf) <= pos:
                return None
            pos += 1 + rows * buf[pos]
        return _length(buf, pos)
    return 2


def _gs_length(buf: bytearray) -> int | None:
    if len(buf) < 2:
        return None
    c = buf[1]
    if c in _GS_FIXED:
        return _length(buf, _GS_FIXED[c])
    if c == ord("V"):
        if len(buf) < 3:
            return None
        return _length(buf, 4 if buf[2] in _FEED_THEN_CUT_MODES else 3)
    if c == ord("k"):
        if len(buf) < 3:
            return None
        if buf[2] <= 6:
            return _nul_terminated(buf, 3)
        if len(buf) < 4:
            return None
        return _length(buf, 4 + buf[3])
    if c == ord("v"):  # GS v 0 m xL xH yL yH d
        if len(buf) < 8:
            return None
        return _length(buf, 8 + (buf[4] | buf[5] << 8) * (buf[6] | buf[7] << 8))
    if c == ord("("):  # GS ( X pL pH ...
        if len(buf) < 5:
            return None
        return _length(buf, 5 + (buf[3] | buf[4] << 8))
    if c == ord("8"):  # GS 8 L p1 p2 p3 p4 ...
        if len(buf) < 7:
            return None
        return _length(buf, 7 + int.from_bytes(buf[3:7], "little"))
    if c == ord("*"):  # GS * x y d, x*y*8 bytes
        if len(buf) < 4:
            return None
        return _length(buf, 4 + buf[2] * buf[3] * 8)
    return 2


def _dle_length(buf: bytearray) -> int | None:
    if len(buf) < 2:
        return None
    c = buf[1]
    if c == EOT:
        if len(buf) < 3:
            return None
        return _length(buf, 4 if buf[2] in (7, 8) else 3)
    if c == ENQ:
        return _length(buf, 3)
    if c == DC4:
        if len(buf) < 3:
            return None
        return _length(buf, _DC4_LENGTHS.get(buf[2], 3))
    return 1


def _fs_length(buf: bytearray) -> int | None:
    if len(buf) < 2:
        return None
    c = buf[1]
    if c in _FS_FIXED:
        return _length(buf, _FS_FIXED[c])
    if c == ord("("):
        if len(buf) < 5:
            return None
        return _length(buf, 5 + (buf[3] | buf[4] << 8))
    return 2


_TEXT_RUN = re.compile(rb"[\x20-\xff]+")


def command_length(buf: bytearray) -> int | None:
    """Length of the command at the start of ``buf``, or None if it is not complete yet.

    Printable bytes (0x20..0xFF) form one text "command" per run.
    """
    first = buf[0]
    if first >= 0x20:
        match = _TEXT_RUN.match(buf)
        assert match is not None
        return match.end()
    if first == ESC:
        return _esc_length(buf)
    if first == GS:
        return _gs_length(buf)
    if first == DLE:
        return _dle_length(buf)
    if first == FS:
        return _fs_length(buf)
    return 1


def is_status_command(cmd: bytes) -> bool:
    """Commands answered at once even while print data is held."""
    if cmd[0] == DLE and len(cmd) >= 2 and cmd[1] in (EOT, ENQ, DC4):
        return True
    return cmd[0] == GS and len(cmd) >= 2 and cmd[1] in b"arI"
