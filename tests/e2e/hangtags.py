"""Shared data for the hang-tag end-to-end tests: products, pricebooks, configs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from babel.numbers import format_currency


def ean13(n: int) -> str:
    body = f"400638{n:06d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def product_id(n: int) -> str:
    return f"SKU-{n:05d}"


def regular(n: int) -> Decimal:
    return Decimal(40 + n % 50) + Decimal("0.99")


def outlet(n: int) -> Decimal:
    return regular(n) - Decimal(10)


def products_csv(count: int) -> str:
    lines = ["id,gtin,name,size,colour,brand"]
    lines += [
        f"{product_id(n)},{ean13(n)},Shirt {n:05d},M,Navy,Posbridge" for n in range(count)
    ]
    return "\n".join(lines) + "\n"


def load_catalog(client: httpx.Client, count: int) -> None:
    """Import ``count`` products and the 'shop.regular' and 'shop.outlet' pricebooks."""
    response = client.post(
        "/v1/products/import",
        content=products_csv(count),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    for ref, price in (("shop.regular", regular), ("shop.outlet", outlet)):
        body = {
            "currency": "EUR",
            "prices": [
                {"product_id": product_id(n), "amount": str(price(n))} for n in range(count)
            ],
        }
        response = client.put(f"/v1/pricebooks/{ref}", json=body)
        assert response.status_code == 200, response.text


def config(device_url: str, *, missing_price: str = "omit", extra: str = "") -> str:
    return (
        "[hang_tags]\n"
        'pricebooks = ["shop.regular", "outlet"]\n'
        'default_catalog = "shop"\n'
        f'missing_price = "{missing_price}"\n'
        'template = "tag-2x3"\n'
        "[[devices]]\n"
        'id = "label-1"\nkind = "label_printer"\n'
        f'url = "{device_url}"\nstatus_interval_s = 0.2\n'
        "[devices.media]\nwidth_mm = 50.8\nheight_mm = 76.2\ndpi = 203\n" + extra
    )


def items(numbers: range, copies: int = 1) -> list[dict[str, Any]]:
    return [{"product_id": product_id(n), "copies": copies} for n in numbers]


def money(amount: Decimal, locale: str) -> str:
    return format_currency(amount, "EUR", locale=locale.replace("-", "_"))
