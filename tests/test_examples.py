"""The README's example request must stay valid: it is what a new user tries first."""

from __future__ import annotations

import json
from pathlib import Path

from posbridge.api.routes.printers import ReceiptRequest
from posbridge.receipts.templates import TemplateStore

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sales-receipt.json"


def test_sales_example_renders_with_the_built_in_template() -> None:
    request = ReceiptRequest.model_validate(json.loads(EXAMPLE.read_text()))
    assert request.template == "sales"
    document = TemplateStore().render(request.template, request.data or {})
    texts = " ".join(getattr(block, "text", "") for block in document.blocks)
    assert "Café Größenwahn" in texts
