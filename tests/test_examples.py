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


HANG_TAGS = EXAMPLE.parent / "hang-tags.json"


def test_hang_tag_example_renders_for_the_demo_label_printer() -> None:
    """The demo's hang-tag example: inline products and prices, no catalogue needed."""
    from posbridge.api.routes.hangtags import HangTagRequest, _items
    from posbridge.config import demo_config
    from posbridge.hangtags.batch import TagRequest, render_batch
    from posbridge.hangtags.pricing import MissingPrice, PricingRules
    from posbridge.hangtags.templates import HangTagTemplates

    config = demo_config()
    request = HangTagRequest.model_validate(json.loads(HANG_TAGS.read_text()))
    label = next(d for d in config.devices if d.kind.value == "label_printer")
    rules = PricingRules(
        tuple(config.hang_tags.pricebooks),
        config.hang_tags.default_catalog,
        MissingPrice(config.hang_tags.missing_price),
    )
    batch = render_batch(
        HangTagTemplates(None),
        None,
        rules,
        TagRequest(_items(request), config.hang_tags.template, request.locale or "de_AT"),
        label.label_media(),
    )
    assert batch.labels == 3
    zpl = batch.payload.decode("utf-8")
    assert "Leinenhemd Classic" in zpl and "Wollschal" in zpl
    assert "€ 39,00".replace(" ", "\xa0") in zpl  # Babel puts a no-break space
