"""``/v1/pricebooks`` and ``/v1/products``: the local data hang tags are printed from.

Imports are all or nothing: a bad row is a 422 naming its line and column, and nothing
of that import is kept. Large imports (a whole catalogue) go through the CLI
(``posbridge import products FILE``), which is not bound by the HTTP body limit.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from posbridge.api.deps import RuntimeDep
from posbridge.api.errors import Problem
from posbridge.hangtags.catalog import Catalog, PricebookInfo, validate_ref
from posbridge.hangtags.errors import NOT_FOUND_CODES, HangTagError
from posbridge.jobs.models import format_time
from posbridge.runtime import Runtime

router = APIRouter(tags=["catalogue"])

_FORMATS = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl"}


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: Annotated[str, Field(min_length=1, max_length=64)]
    amount: Annotated[str, Field(max_length=32, description="A decimal string, e.g. '49.00'")]


class PricebookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    prices: list[PriceEntry]


def _catalog(runtime: Runtime) -> Catalog:
    return runtime.catalog


def _problem(exc: HangTagError) -> Problem:
    status = 404 if exc.code in NOT_FOUND_CODES else 422
    return Problem(status, exc.code, "Catalogue data rejected", str(exc))


def _public(info: PricebookInfo) -> dict[str, object]:
    return {
        "ref": info.ref,
        "currency": info.currency,
        "prices": info.count,
        "updated_at": format_time(info.updated_at),
    }


def _import_format(request: Request) -> Literal["csv", "jsonl"]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = _FORMATS.get(media)
    if fmt is None:
        raise Problem(
            415,
            "unsupported_media_type",
            "Unsupported import format",
            f"send text/csv or application/x-ndjson, not {media or 'nothing'!r}",
        )
    return "csv" if fmt == "csv" else "jsonl"


async def _text(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "invalid_import", "Import is not UTF-8", f"byte {exc.start} is not UTF-8"
        ) from exc


@router.get("/v1/pricebooks")
async def list_pricebooks(runtime: RuntimeDep) -> dict[str, object]:
    infos = await asyncio.to_thread(_catalog(runtime).pricebooks)
    return {"pricebooks": [_public(info) for info in infos]}


@router.get("/v1/pricebooks/{ref}")
async def get_pricebook(ref: str, runtime: RuntimeDep) -> dict[str, object]:
    info = await asyncio.to_thread(_catalog(runtime).pricebook, ref)
    if info is None:
        raise Problem(404, "unknown_pricebook", "Unknown pricebook", f"no pricebook {ref!r}")
    return _public(info)


@router.put("/v1/pricebooks/{ref}")
async def put_pricebook(ref: str, body: PricebookBody, runtime: RuntimeDep) -> dict[str, object]:
    """Replace pricebook ``ref`` (``catalog.pricebook``) with these prices."""
    catalog = _catalog(runtime)
    try:
        validate_ref(ref)
        pairs = [(entry.product_id, entry.amount) for entry in body.prices]
        await asyncio.to_thread(catalog.put_pricebook, ref, body.currency, pairs)
        info = await asyncio.to_thread(catalog.pricebook, ref)
    except HangTagError as exc:
        raise _problem(exc) from exc
    assert info is not None
    return _public(info)


@router.post("/v1/pricebooks/{ref}/import")
async def import_pricebook(
    ref: str,
    request: Request,
    runtime: RuntimeDep,
    currency: Annotated[str, Query(min_length=3, max_length=3)],
) -> dict[str, object]:
    """Replace pricebook ``ref`` from CSV (``product_id,amount``) or JSON lines."""
    fmt = _import_format(request)
    text = await _text(request)
    catalog = _catalog(runtime)
    try:
        validate_ref(ref)
        await asyncio.to_thread(catalog.import_prices, ref, currency, text, fmt)
        info = await asyncio.to_thread(catalog.pricebook, ref)
    except HangTagError as exc:
        raise _problem(exc) from exc
    assert info is not None
    return _public(info)


@router.post("/v1/products/import")
async def import_products(request: Request, runtime: RuntimeDep) -> dict[str, object]:
    """Add or update products from CSV (header ``id,gtin,name,size,colour,brand,...``) or
    JSON lines; columns beyond those become attributes the templates can show."""
    fmt = _import_format(request)
    text = await _text(request)
    try:
        count = await asyncio.to_thread(_catalog(runtime).import_products, text, fmt)
    except HangTagError as exc:
        raise _problem(exc) from exc
    return {"imported": count}


@router.get("/v1/products/{product_id}")
async def get_product(product_id: str, runtime: RuntimeDep) -> dict[str, object]:
    found = await asyncio.to_thread(_catalog(runtime).products, [product_id])
    product = found.get(product_id)
    if product is None:
        raise Problem(404, "unknown_product", "Unknown product", f"no product {product_id!r}")
    return {
        "id": product.id,
        "gtin": product.gtin,
        "name": product.name,
        "size": product.size,
        "colour": product.colour,
        "brand": product.brand,
        "attributes": dict(product.attributes),
    }
