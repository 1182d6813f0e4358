"""ZPL II printer status: the three-line answer to ``~HS`` (host status) parsed into one model.

Each line is framed ``STX ... ETX CR LF`` and holds comma-separated fields (Zebra ZPL II
Programming Guide, ``~HS``)::

    line 1  aaa,b,c,dddd,eee,f,g,h,iii,j,k,l
            aaa communication settings, b paper out, c pause, dddd label length (dots),
            eee formats in the receive buffer, f buffer full, g comms diagnostic mode,
            h partial format, iii unused (000), j corrupt RAM, k under temperature,
            l over temperature
    line 2  mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www
            mmm function settings, n unused, o head up, p ribbon out, q thermal transfer
            mode, r print mode, s print width mode, t label waiting, uuuuuuuu labels
            remaining in the batch, v format while printing (always 1), www graphic images
            stored
    line 3  xxxx,y
            xxxx password, y static RAM installed

Flags are ``0``/``1``. Some firmware appends fields to a line, so extra fields are
tolerated; missing ones are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.errors import ProtocolError

__all__ = [
    "ETX",
    "HOST_STATUS_QUERY",
    "STX",
    "LabelStatus",
    "host_status_reply",
    "parse_host_status",
]

STX = 0x02
ETX = 0x03
HOST_STATUS_QUERY = b"~HS"
_LINE_END = b"\r\n"

# (letter in the guide, meaning) per field, in order; used for error messages.
_LINE1 = (
    ("aaa", "communication settings"),
    ("b", "paper out flag"),
    ("c", "pause flag"),
    ("dddd", "label length"),
    ("eee", "formats in receive buffer"),
    ("f", "buffer full flag"),
    ("g", "communications diagnostic mode flag"),
    ("h", "partial format flag"),
    ("iii", "unused"),
    ("j", "corrupt RAM flag"),
    ("k", "under temperature flag"),
    ("l", "over temperature flag"),
)
_LINE2 = (
    ("mmm", "function settings"),
    ("n", "unused"),
    ("o", "head up flag"),
    ("p", "ribbon out flag"),
    ("q", "thermal transfer mode flag"),
    ("r", "print mode"),
    ("s", "print width mode"),
    ("t", "label waiting flag"),
    ("uuuuuuuu", "labels remaining in batch"),
    ("v", "format while printing flag"),
    ("www", "graphic images stored"),
)
_LINE3 = (("xxxx", "password"), ("y", "static RAM installed flag"))
_LINES = (_LINE1, _LINE2, _LINE3)


@dataclass(frozen=True)
class LabelStatus:
    """Everything ``~HS`` tells about a label printer, plus the raw reply."""

    media_out: bool = False
    paused: bool = False
    head_open: bool = False
    ribbon_out: bool = False
    buffer_full: bool = False
    formats_in_buffer: int = 0
    labels_remaining: int = 0
    label_length_dots: int = 0
    under_temperature: bool = False
    over_temperature: bool = False
    corrupt_ram: bool = False
    raw: bytes = field(default=b"", repr=False)
    partial_format: bool = False
    """A format was started (``^XA``) but its end (``^XZ``) has not arrived yet."""
    thermal_transfer: bool = False
    label_waiting: bool = False
    """Peel-off mode: a printed label waits to be taken."""

    @property
    def blocking_reason(self) -> str | None:
        """Why labels do not come out, or None when the printer can print.

        The cause comes before its consequence: a Zebra pauses itself when media runs
        out or the head opens, so ``paused`` is named only when nothing else is wrong.
        """
        if self.media_out:
            return "media_out"
        if self.head_open:
            return "head_open"
        if self.ribbon_out:
            return "ribbon_out"
        if self.over_temperature:
            return "over_temperature"
        if self.paused:
            return "paused"
        return None

    @property
    def warnings(self) -> list[str]:
        """Conditions worth showing that do not stop printing."""
        found = []
        if self.buffer_full:
            found.append("buffer_full")
        if self.under_temperature:
            found.append("under_temperature")
        if self.corrupt_ram:
            found.append("corrupt_ram")
        return found

    @property
    def idle(self) -> bool:
        """Nothing left to print: no buffered format, no label of a batch outstanding."""
        return self.formats_in_buffer == 0 and self.labels_remaining == 0


def _frames(reply: bytes) -> list[bytes]:
    """The payloads of the ``STX ... ETX`` frames; only CR/LF may sit between them."""
    frames: list[bytes] = []
    pos = 0
    while pos < len(reply):
        byte = reply[pos]
        if byte in b"\r\n":
            pos += 1
            continue
        if byte != STX:
            raise ProtocolError(
                f"~HS reply: unexpected byte 0x{byte:02X} at offset {pos} outside a "
                f"STX...ETX line ({reply!r})"
            )
        end = reply.find(bytes((ETX,)), pos + 1)
        if end < 0:
            raise ProtocolError(f"~HS reply: line {len(frames) + 1} has no ETX ({reply!r})")
        payload = reply[pos + 1 : end]
        if STX in payload:
            raise ProtocolError(
                f"~HS reply: line {len(frames) + 1} is cut short by a new STX ({reply!r})"
            )
        frames.append(payload)
        pos = end + 1
    return frames


def _fields(number: int, payload: bytes) -> list[str]:
    spec = _LINES[number - 1]
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"~HS line {number} is not ASCII: {payload!r}") from None
    values = [value.strip() for value in text.split(",")]
    if len(values) < len(spec):
        raise ProtocolError(
            f"~HS line {number} has {len(values)} fields, expected {len(spec)}: {text!r}"
        )
    return values


def _number(number: int, index: int, value: str) -> int:
    if not value.isdigit():
        letters, meaning = _LINES[number - 1][index]
        raise ProtocolError(
            f"~HS line {number} field {index + 1} ({letters}, {meaning}) is {value!r}, "
            "expected a number"
        )
    return int(value)


def _flag(number: int, index: int, value: str) -> bool:
    if value not in ("0", "1"):
        letters, meaning = _LINES[number - 1][index]
        raise ProtocolError(
            f"~HS line {number} field {index + 1} ({letters}, {meaning}) is {value!r}, "
            "expected 0 or 1"
        )
    return value == "1"


def parse_host_status(reply: bytes) -> LabelStatus:
    """Parse the three ``STX ... ETX CR LF`` lines a printer sends for ``~HS``.

    Raises ``ProtocolError`` naming the line and field when the reply is malformed.
    """
    frames = _frames(reply)
    if len(frames) != 3:
        raise ProtocolError(f"~HS reply has {len(frames)} lines, expected 3 ({reply!r})")
    one, two, three = (_fields(n, payload) for n, payload in enumerate(frames, start=1))
    _number(3, 1, three[1])  # a digit, even if nobody cares about static RAM
    return LabelStatus(
        media_out=_flag(1, 1, one[1]),
        paused=_flag(1, 2, one[2]),
        label_length_dots=_number(1, 3, one[3]),
        formats_in_buffer=_number(1, 4, one[4]),
        buffer_full=_flag(1, 5, one[5]),
        partial_format=_flag(1, 7, one[7]),
        corrupt_ram=_flag(1, 9, one[9]),
        under_temperature=_flag(1, 10, one[10]),
        over_temperature=_flag(1, 11, one[11]),
        head_open=_flag(2, 2, two[2]),
        ribbon_out=_flag(2, 3, two[3]),
        thermal_transfer=_flag(2, 4, two[4]),
        label_waiting=_flag(2, 7, two[7]),
        labels_remaining=_number(2, 8, two[8]),
        raw=bytes(reply),
    )


def _digits(value: int, width: int) -> str:
    """A non-negative number in a fixed-width field, clamped to what the field can hold."""
    return str(min(max(value, 0), 10**width - 1)).zfill(width)


def _bit(flag: bool) -> str:
    return "1" if flag else "0"


def _line(*fields: str) -> bytes:
    return bytes((STX,)) + ",".join(fields).encode("ascii") + bytes((ETX,)) + _LINE_END


def host_status_reply(
    *,
    media_out: bool = False,
    paused: bool = False,
    label_length_dots: int = 0,
    formats_in_buffer: int = 0,
    buffer_full: bool = False,
    partial_format: bool = False,
    corrupt_ram: bool = False,
    under_temperature: bool = False,
    over_temperature: bool = False,
    head_open: bool = False,
    ribbon_out: bool = False,
    thermal_transfer: bool = False,
    label_waiting: bool = False,
    labels_remaining: int = 0,
    graphics_stored: int = 0,
    communication_settings: int = 30,
    function_settings: int = 1,
    print_mode: int = 2,
    print_width_mode: int = 6,
    password: int = 1234,
) -> bytes:
    """The bytes a Zebra printer in this state answers to ``~HS``.

    The defaults describe an idle direct-thermal printer in tear-off mode; numbers that
    do not fit their field are clamped (a real printer never sends more digits).
    """
    line1 = _line(
        _digits(communication_settings, 3),
        _bit(media_out),
        _bit(paused),
        _digits(label_length_dots, 4),
        _digits(formats_in_buffer, 3),
        _bit(buffer_full),
        "0",  # communications diagnostic mode
        _bit(partial_format),
        "000",
        _bit(corrupt_ram),
        _bit(under_temperature),
        _bit(over_temperature),
    )
    line2 = _line(
        _digits(function_settings, 3),
        "0",
        _bit(head_open),
        _bit(ribbon_out),
        _bit(thermal_transfer),
        _digits(print_mode, 1),
        _digits(print_width_mode, 1),
        _bit(label_waiting),
        _digits(labels_remaining, 8),
        "1",  # format while printing: always 1
        _digits(graphics_stored, 3),
    )
    line3 = _line(_digits(password, 4), "0")
    return line1 + line2 + line3
