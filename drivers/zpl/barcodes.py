"""Barcode module patterns for the ZPL renderer.

Patterns only, no drawing: a 1D symbol is a string of ``"1"`` (bar) and ``"0"`` (space)
modules, a 2D symbol a tuple of rows of booleans (True = dark). The renderer scales them
by the whole-dot module sizes ZPL gives (``^BY``, ``^BQ`` magnification, ``^BX`` height),
exactly as the print head does, so the result decodes like a printed label.

Neither pattern carries a quiet zone: on a Zebra the field origin is the first bar.

python-barcode builds the 1D patterns, ``qrcode`` the QR matrix and ``ppf-datamatrix``
(pure Python) the ECC 200 DataMatrix.
"""

from __future__ import annotations

import enum
from functools import lru_cache

import barcode  # type: ignore[import-untyped]
import qrcode  # type: ignore[import-untyped]
from ppf.datamatrix import DataMatrix  # type: ignore[import-untyped]

from drivers.errors import EncodingError

__all__ = [
    "LINEAR_DIGITS",
    "Symbology",
    "gs1_check_digit",
    "linear_modules",
    "matrix_modules",
]


class Symbology(enum.StrEnum):
    """The symbologies the ZPL parser and renderer understand (``^BC ^BE ^BU ^B8 ^BQ ^BX``)."""

    CODE128 = "CODE128"
    EAN13 = "EAN13"
    UPCA = "UPCA"
    EAN8 = "EAN8"
    QR = "QR"
    DATAMATRIX = "DATAMATRIX"

    @property
    def is_2d(self) -> bool:
        return self in (Symbology.QR, Symbology.DATAMATRIX)


# Digits a GS1 retail symbol carries before its check digit.
LINEAR_DIGITS = {Symbology.EAN13: 12, Symbology.UPCA: 11, Symbology.EAN8: 7}

_PYTHON_BARCODE_NAMES = {
    Symbology.CODE128: "code128",
    Symbology.EAN13: "ean13",
    Symbology.UPCA: "upca",
    Symbology.EAN8: "ean8",
}
_QR_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}

Matrix = tuple[tuple[bool, ...], ...]


def gs1_check_digit(digits: str) -> str:
    """The GS1 modulo-10 check digit of ``digits`` (EAN-13, UPC-A, EAN-8 without it)."""
    total = 0
    # Weights 3,1,3,... counted from the rightmost digit.
    for index, char in enumerate(reversed(digits)):
        total += int(char) * (3 if index % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


@lru_cache(maxsize=512)
def linear_modules(symbology: Symbology, data: str) -> str:
    """Bars and spaces of a 1D symbol, one character per module, no quiet zone.

    ``data`` is what the scanner reads: for EAN/UPC all digits including the check digit
    (the parser has already computed it), for Code 128 the plain text.
    """
    name = _PYTHON_BARCODE_NAMES.get(symbology)
    if name is None:
        raise ValueError(f"{symbology} is not a 1D symbology")
    digits = LINEAR_DIGITS.get(symbology)
    # python-barcode computes the check digit itself; hand it the digits without it.
    payload = data[:digits] if digits is not None else data
    try:
        modules: list[str] = barcode.get(name, payload).build()
    except Exception as exc:  # python-barcode raises assorted errors
        raise EncodingError(f"cannot encode {data!r} as {symbology}: {exc}") from exc
    return "".join(modules)


@lru_cache(maxsize=256)
def matrix_modules(symbology: Symbology, data: bytes, error_correction: str = "M") -> Matrix:
    """Dark/light modules of a QR code or DataMatrix, row by row, no quiet zone.

    ``data`` is the byte payload (the field data in the format's character set).
    ``error_correction`` is the QR level L/M/Q/H; DataMatrix is always ECC 200.
    """
    if symbology is Symbology.QR:
        code = qrcode.QRCode(error_correction=_QR_EC.get(error_correction, _QR_EC["M"]), border=0)
        code.add_data(data)
        try:
            code.make(fit=True)
        except Exception as exc:  # qrcode raises DataOverflowError and others
            raise EncodingError(f"cannot encode {len(data)} bytes as a QR code: {exc}") from exc
        rows: list[list[bool]] = code.get_matrix()
        return tuple(tuple(row) for row in rows)
    if symbology is Symbology.DATAMATRIX:
        try:
            text = data.decode("ascii")
            dm_rows: list[list[int]] = DataMatrix(text).matrix
        except (UnicodeDecodeError, ValueError) as exc:
            # ppf-datamatrix encodes ASCII only (no upper-shift for bytes above 127).
            raise EncodingError(f"cannot encode {data!r} as DataMatrix: {exc}") from exc
        return tuple(tuple(bool(cell) for cell in row) for row in dm_rows)
    raise ValueError(f"{symbology} is not a 2D symbology")
