"""The benchmark receipt: 30 lines, a Code128 barcode and a QR code — as blocks for
posbridge and as the same python-escpos calls for the direct script."""

from __future__ import annotations

from typing import Any

LINES = [f"{i:>2} x Artikel Nummer {i:03d}" for i in range(1, 29)]


def blocks() -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"type": "text", "text": "Bench Store Wien", "align": "center", "bold": True},
        {"type": "text", "text": "Grüße aus Wien"},
    ]
    items += [{"type": "columns", "left": line, "right": "€ 9,99"} for line in LINES]
    items += [
        {"type": "barcode", "symbology": "CODE128", "data": "ORDER-12345"},
        {"type": "qr", "data": "https://pos.example.com/r/12345"},
        {"type": "cut"},
    ]
    return {"blocks": items}


def print_direct(printer: Any) -> None:
    """The same receipt through python-escpos' own API, as a plain script would."""
    printer.set(align="center", bold=True)
    printer.text("Bench Store Wien\n")
    printer.set(align="left", bold=False)
    printer.text("Grüße aus Wien\n")
    for line in LINES:
        printer.text(line + " " * (42 - len(line) - 6) + "€ 9,99\n")
    printer.barcode("{BORDER-12345", "CODE128", function_type="B")
    printer.qr("https://pos.example.com/r/12345", native=True, size=6)
    printer.cut()
