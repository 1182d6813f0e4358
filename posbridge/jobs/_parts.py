"""The part index of a job sent in parts, stored beside its payload.

Each part is two unsigned 32-bit integers: where it ends in the payload, and how many
units (labels) it makes. 10,000 tags take 80 KB, read once when the batch starts.
"""

from __future__ import annotations

import array
import sys
from collections.abc import Sequence

from posbridge.jobs.models import PartEnd

__all__ = ["decode_parts", "encode_parts"]


def encode_parts(parts: Sequence[PartEnd]) -> bytes:
    flat = array.array("I")
    last = 0
    for end, units in parts:
        if end < last or units < 0:
            raise ValueError("parts must end in increasing order with units >= 0")
        flat.extend((end, units))
        last = end
    if sys.byteorder != "little":
        flat.byteswap()
    return flat.tobytes()


def decode_parts(blob: bytes) -> list[PartEnd]:
    flat = array.array("I")
    flat.frombytes(blob)
    if sys.byteorder != "little":
        flat.byteswap()
    return [PartEnd(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
