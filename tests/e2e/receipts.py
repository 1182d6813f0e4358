"""Receipt documents used by the end-to-end tests."""

from __future__ import annotations

from typing import Any

UNICODE_LINE = "Grüße: € ä ß é ñ"
BARCODE = "ORDER-12345"
QR = "https://pos.example.com/r/12345?sig=äöü"


def unicode_receipt(marker: str = "") -> dict[str, Any]:
    return {
        "blocks": [
            {"type": "text", "text": "Café Zentral", "align": "center", "bold": True,
             "size": "double"},
            {"type": "text", "text": UNICODE_LINE},
            {"type": "columns", "left": "2 x Jamón ibérico", "right": "€ 49,00"},
            {"type": "rule"},
            {"type": "text", "text": marker or "thank you"},
            {"type": "barcode", "symbology": "CODE128", "data": BARCODE},
            {"type": "qr", "data": QR},
            {"type": "cut"},
        ]
    }


def small_receipt(marker: str) -> dict[str, Any]:
    return {
        "blocks": [
            {"type": "text", "text": marker},
            {"type": "columns", "left": "1 x Brot", "right": "€ 2,50"},
            {"type": "cut"},
        ]
    }
