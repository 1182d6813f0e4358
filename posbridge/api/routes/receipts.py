"""``/v1/receipts/preview`` and ``/v1/templates``: see a receipt before it prints."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from drivers.errors import DeviceError
from posbridge.api.deps import RuntimeDep, receipt_printer_or_404
from posbridge.api.errors import Problem
from posbridge.api.routes.printers import ReceiptRequest, receipt_document
from posbridge.receipts.preview import render_preview
from posbridge.receipts.templates import TemplateError

router = APIRouter(tags=["receipts"])


@router.post("/v1/receipts/preview", response_model=None)
async def preview_receipt(
    body: ReceiptRequest,
    runtime: RuntimeDep,
    format: Annotated[Literal["png", "text"], Query()] = "png",
    device_id: Annotated[str | None, Query(description="Lay out for this printer")] = None,
    profile: Annotated[str, Query(description="Printer profile when no device is named")] = (
        "TM-T88V"
    ),
) -> Response:
    """What the printer would produce, rendered by the emulator: nothing is printed."""
    if device_id is not None:
        profile = receipt_printer_or_404(runtime, device_id).profile.name
    document = await receipt_document(runtime, body)
    try:
        out = await asyncio.to_thread(render_preview, document, profile, format)
    except DeviceError as exc:
        raise Problem(422, exc.code, "Cannot render this receipt", str(exc)) from exc
    if isinstance(out, str):
        return PlainTextResponse(out)
    return Response(out, media_type="image/png")


class TemplateSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, Field(max_length=256 * 1024)]


@router.get("/v1/templates")
async def list_templates(runtime: RuntimeDep) -> dict[str, object]:
    return {"templates": runtime.templates.names()}


@router.get("/v1/templates/{name}")
async def get_template(name: str, runtime: RuntimeDep) -> dict[str, object]:
    try:
        return {"name": name, "source": runtime.templates.source(name)}
    except TemplateError as exc:
        raise Problem(404, exc.code, "Unknown template", str(exc)) from exc


@router.put("/v1/templates/{name}")
async def put_template(name: str, body: TemplateSource, runtime: RuntimeDep) -> dict[str, object]:
    try:
        runtime.templates.put(name, body.source)
    except TemplateError as exc:
        raise Problem(422, exc.code, "Template rejected", str(exc)) from exc
    return {"name": name}
