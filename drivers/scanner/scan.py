"""One barcode scan, as every scanner kind (serial, keyboard wedge, HID POS) reports it."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.scanner.aim import parse_aim, symbology_from_aim
from drivers.scanner.symbology import Symbology, code_type, infer_symbology

__all__ = ["Scan", "build_scan", "decode_payload"]


@dataclass(frozen=True, slots=True)
class Scan:
    """A decoded barcode.

    ``data`` is the payload with the AIM identifier, prefix and suffix removed; control
    characters inside it are kept (AAMVA ID documents need their LF/RS/CR, GS1 data its
    GS separators). ``raw`` is exactly what came off the wire for this scan, framing
    included. ``aim`` is the identifier (``"]E0"``) or None when the scanner sent none.
    ``source`` is ``"serial"``, ``"wedge"``, ``"hid"`` or ``"camera"``.

    ``raw`` and ``data`` may hold personal data (ID documents): never log them.
    """

    data: str
    raw: bytes
    symbology: Symbology
    aim: str | None
    code_type: int
    source: str


def decode_payload(payload: bytes) -> str:
    """Payload bytes as text: UTF-8 when they are valid UTF-8, else latin-1.

    Scanners send whatever bytes the symbol holds. Modern QR/DataMatrix content is
    UTF-8; older symbols (Code 128 extended, PDF417 without ECI) are ISO 8859-1 by
    their specification. latin-1 maps every byte to one character, so nothing is lost
    and ``data.encode("latin-1")`` gives the bytes back in that case.
    """
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def build_scan(raw: bytes, payload: bytes, source: str, *, aim: bool = True) -> Scan:
    """The ``Scan`` for ``payload`` (prefix and suffix already removed, AIM id still on).

    With ``aim`` a leading AIM identifier is split off and names the symbology; without
    one (or when it names none we know, e.g. ``]X0``) the symbology is inferred from the
    data (``infer_symbology``), which only answers when it is certain.
    """
    identifier, body = parse_aim(payload) if aim else (None, payload)
    data = decode_payload(body)
    symbology = Symbology.UNKNOWN
    if identifier is not None:
        symbology = symbology_from_aim(identifier, data)
    if symbology is Symbology.UNKNOWN:
        symbology = infer_symbology(data)
    return Scan(
        data=data,
        raw=raw,
        symbology=symbology,
        aim=identifier,
        code_type=code_type(symbology),
        source=source,
    )
