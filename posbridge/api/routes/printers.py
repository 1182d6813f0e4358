"""``/v1/printers/{id}/...``: receipts and cash drawers."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.errors import EncodingError
from drivers.escpos.encoder import drawer_kick_bytes
from posbridge.api.deps import RuntimeDep, receipt_printer_or_404
from posbridge.api.errors import Problem
from posbridge.api.submit import accept_job
from posbridge.jobs.models import JobKind
from posbridge.receipts.document import Block, ReceiptDocument, check_image_budget
from posbridge.receipts.render import render_document
from posbridge.receipts.templates import TemplateError
from posbridge.runtime import Runtime

router = APIRouter(tags=["printers"])

WaitQuery = Annotated[
    float, Query(ge=0, le=300, description="Seconds to wait for the job to finish")
]


class ReceiptRequest(BaseModel):
    """Either a template with its data, or a document of blocks."""

    model_config = ConfigDict(extra="forbid")

    template: Annotated[str | None, Field(max_length=64)] = None
    data: dict[str, Any] | None = None
    blocks: Annotated[list[Block] | None, Field(min_length=1, max_length=2000)] = None
    deadline_s: Annotated[float | None, Field(gt=0, le=7 * 86400)] = None

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
        return ReceiptDocument(blocks=body.blocks)
    assert body.template is not None
    try:
        # A retailer's template may loop over a lot of data; its output is capped, its
        # time is not, so it runs beside the loop rather than on it.
        return await asyncio.to_thread(runtime.templates.render, body.template, body.data or {})
    except TemplateError as exc:
        status = 404 if exc.code == "template_not_found" else 422
        raise Problem(status, exc.code, "Template error", str(exc)) from exc


@router.post("/v1/printers/{device_id}/receipts", status_code=202)
async def print_receipt(
    device_id: str,
    body: ReceiptRequest,
    request: Request,
    runtime: RuntimeDep,
    wait: WaitQuery = 0,
) -> Response:
    device = receipt_printer_or_404(runtime, device_id)
    document = await receipt_document(runtime, body)
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
