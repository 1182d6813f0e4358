"""``/v1/printers/{id}/...``: receipts and cash drawers."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from drivers.errors import EncodingError
from drivers.escpos.encoder import drawer_kick_bytes
from posbridge.api.deps import RuntimeDep, get_runtime, receipt_printer_or_404
from posbridge.api.direct import DirectRoute, json_body, query_value
from posbridge.api.errors import Problem
from posbridge.api.security import require_token
from posbridge.api.submit import accept_job
from posbridge.jobs.models import JobKind
from posbridge.receipts.document import (
    MAX_BLOCKS,
    Align,
    Block,
    QrBlock,
    ReceiptDocument,
    TextBlock,
    check_image_budget,
)
from posbridge.receipts.render import render_document
from posbridge.receipts.templates import TemplateError
from posbridge.runtime import Runtime

router = APIRouter(tags=["printers"])

WaitQuery = Annotated[
    float, Query(ge=0, le=300, description="Seconds to wait for the job to finish")
]
_WAIT: TypeAdapter[float] = TypeAdapter(WaitQuery)  # the same bounds, checked by hand


class FiscalPart(BaseModel):
    """A fiscal transaction to sign before the receipt prints (its signature items, such
    as the RKSV QR code, are printed at the end of the receipt)."""

    model_config = ConfigDict(extra="forbid")

    cashbox_id: Annotated[str, Field(min_length=1, max_length=64)]
    transaction: dict[str, Any]


class ReceiptRequest(BaseModel):
    """Either a template with its data, or a document of blocks; optionally signed."""

    model_config = ConfigDict(extra="forbid")

    template: Annotated[str | None, Field(max_length=64)] = None
    data: dict[str, Any] | None = None
    blocks: Annotated[list[Block] | None, Field(min_length=1, max_length=MAX_BLOCKS)] = None
    deadline_s: Annotated[float | None, Field(gt=0, le=7 * 86400)] = None
    fiscal: FiscalPart | None = None

    @field_validator("blocks")
    @classmethod
    def _image_budget(cls, blocks: list[Block] | None) -> list[Block] | None:
        return None if blocks is None else check_image_budget(blocks)

    @model_validator(mode="after")
    def _one_source(self) -> ReceiptRequest:
        if (self.template is None) == (self.blocks is None):
            raise ValueError("give either 'template' (with 'data') or 'blocks', not both")
        if self.data is not None and self.template is None:
            raise ValueError("'data' goes with 'template'")
        return self


class DrawerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: Annotated[int, Field(description="Kick-out connector pin: 2 or 5")] = 2
    on_ms: Annotated[int, Field(ge=10, le=500)] = 100
    deadline_s: Annotated[float | None, Field(gt=0, le=300)] = None

    @model_validator(mode="after")
    def _pin(self) -> DrawerRequest:
        if self.pin not in (2, 5):
            raise ValueError(f"pin must be 2 or 5, not {self.pin}")
        return self


async def receipt_document(runtime: Runtime, body: ReceiptRequest) -> ReceiptDocument:
    """The document a request asks for, with template errors as 422s."""
    if body.blocks is not None:
        # The blocks were checked as part of the request (the image budget too): not again.
        return ReceiptDocument.model_construct(blocks=body.blocks)
    assert body.template is not None
    try:
        # A retailer's template may loop over a lot of data; its output is capped, its
        # time is not, so it runs beside the loop rather than on it.
        return await asyncio.to_thread(runtime.templates.render, body.template, body.data or {})
    except TemplateError as exc:
        status = 404 if exc.code == "template_not_found" else 422
        raise Problem(status, exc.code, "Template error", str(exc)) from exc


async def _receipt_request(request: Request) -> Response:
    """``print_receipt`` with its parameters checked by hand (see ``RECEIPTS``)."""
    await require_token(request)
    wait = query_value(request, "wait", _WAIT, 0.0)
    body = await json_body(request, ReceiptRequest)
    runtime = await get_runtime(request)
    return await print_receipt(request.path_params["device_id"], body, request, runtime, wait)


async def print_receipt(
    device_id: str,
    body: ReceiptRequest,
    request: Request,
    runtime: RuntimeDep,
    wait: WaitQuery = 0,
) -> Response:
    device = receipt_printer_or_404(runtime, device_id)
    document = await receipt_document(runtime, body)
    if body.fiscal is not None:
        document = await _signed(runtime, document, body.fiscal)
    try:
        if document.has_images:
            # Decoding and dithering pictures takes a while: not on the loop.
            payload = await asyncio.to_thread(render_document, document, device.profile)
        else:
            payload = render_document(document, device.profile)  # about a millisecond
    except EncodingError as exc:
        raise Problem(422, exc.code, "Cannot print this receipt", str(exc)) from exc
    deadline = body.deadline_s or runtime.config.jobs.receipt_deadline_s
    return await accept_job(runtime, request, device, JobKind.RECEIPT, payload, deadline, wait)


RECEIPTS = DirectRoute("POST", "/v1/printers/{device_id}/receipts", _receipt_request)
"""The hottest route, served directly (``posbridge.api.direct``)."""
RECEIPTS.add_to(router, print_receipt, status_code=202)


async def _signed(
    runtime: Runtime, document: ReceiptDocument, fiscal: FiscalPart
) -> ReceiptDocument:
    """Sign first (committed to the fiscal journal), then print the signature items
    before the cut: a sale is legal once signed, even if the printer is out of paper."""
    # A FiscalError here is the fiscal routes' problem+json too (install_fiscal_errors).
    service = await runtime.fiscal()
    answer, _ = await service.transact(fiscal.cashbox_id, fiscal.transaction)
    extra: list[Block] = []
    for item in answer["signature_items"]:
        if item["format"] == "QR_CODE":
            extra.append(QrBlock(data=item["data"], module_size=4))
        elif item["format"] == "TEXT":
            extra.append(TextBlock(text=item["data"], align=Align.CENTER, bold=True))
    blocks = list(document.blocks)
    end = len(blocks)
    while end and blocks[end - 1].type in ("cut", "feed"):
        end -= 1
    return ReceiptDocument(blocks=[*blocks[:end], *extra, *blocks[end:]])


@router.post("/v1/printers/{device_id}/drawer", status_code=202)
async def open_drawer(
    device_id: str,
    request: Request,
    runtime: RuntimeDep,
    body: DrawerRequest | None = None,
    wait: WaitQuery = 0,
) -> Response:
    device = receipt_printer_or_404(runtime, device_id)
    body = body or DrawerRequest()
    payload = drawer_kick_bytes(body.pin, body.on_ms)
    deadline = body.deadline_s or runtime.config.jobs.drawer_deadline_s
    return await accept_job(runtime, request, device, JobKind.DRAWER, payload, deadline, wait)
