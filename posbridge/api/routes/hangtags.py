"""``/v1/label-printers/{id}/hang-tags``, ``/v1/hang-tags/preview`` and tag templates."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from drivers.zpl.media import Media
from posbridge.api.deps import RuntimeDep, label_printer_or_404
from posbridge.api.errors import Problem
from posbridge.api.submit import accept_job
from posbridge.hangtags.batch import TagRequest, render_batch, render_preview
from posbridge.hangtags.errors import NOT_FOUND_CODES, HangTagError
from posbridge.hangtags.pricing import MissingPrice, PricingRules, TagItem
from posbridge.jobs.models import JobKind, PartEnd
from posbridge.runtime import Runtime

router = APIRouter(tags=["hang tags"])

WaitQuery = Annotated[
    float, Query(ge=0, le=300, description="Seconds to wait for the batch to finish")
]
_Text = Annotated[str, Field(max_length=200)]


class InlineProduct(BaseModel):
    """Product data sent with the item instead of (or over) the imported catalogue."""

    model_config = ConfigDict(extra="forbid")
    name: _Text | None = None
    gtin: Annotated[str | None, Field(max_length=20)] = None
    size: _Text | None = None
    colour: _Text | None = None
    brand: _Text | None = None
    attributes: dict[str, _Text] | None = None


class InlinePrice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[str, Field(max_length=32, description="A decimal string, e.g. '49.00'")]
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None


class HangTagItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: Annotated[str, Field(min_length=1, max_length=64)]
    copies: Annotated[int, Field(ge=1, le=1000)] = 1
    product: InlineProduct | None = None
    prices: (
        dict[
            Annotated[str, Field(max_length=130)],
            Annotated[str, Field(max_length=32)] | InlinePrice | None,
        ]
        | None
    ) = Field(
        default=None,
        description="Inline prices by pricebook, as configured ('outlet') or in full "
        "('storefront-catalog-gb.outlet'): '39.00' or {'amount': '39.00', 'currency': 'GBP'};"
        " null: no price in that pricebook for this product",
    )


class HangTagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: Annotated[list[HangTagItem], Field(min_length=1)]
    template: Annotated[str | None, Field(max_length=64)] = None
    locale: Annotated[str | None, Field(max_length=32)] = None
    deadline_s: Annotated[float | None, Field(gt=0, le=30 * 86400)] = None


def _items(body: HangTagRequest) -> list[TagItem]:
    out = []
    for item in body.items:
        prices: dict[str, object] | None = None
        if item.prices is not None:
            prices = {
                ref: value
                if value is None or isinstance(value, str)
                else value.model_dump(exclude_none=True)
                for ref, value in item.prices.items()
            }
        out.append(
            TagItem(
                product_id=item.product_id,
                copies=item.copies,
                product=(
                    None if item.product is None else item.product.model_dump(exclude_none=True)
                ),
                prices=prices,
            )
        )
    return out


def _rules(runtime: Runtime) -> PricingRules:
    tags = runtime.config.hang_tags
    return PricingRules(
        pricebooks=tuple(tags.pricebooks),
        default_catalog=tags.default_catalog,
        missing_price=MissingPrice(tags.missing_price),
    )


def _tag_request(runtime: Runtime, body: HangTagRequest) -> TagRequest:
    limit = runtime.config.hang_tags.max_tags
    if len(body.items) > limit:
        raise Problem(
            413,
            "too_many_tags",
            "Too many tags",
            f"{len(body.items)} items in one request; at most {limit} (hang_tags.max_tags)",
        )
    tags = runtime.config.hang_tags
    return TagRequest(_items(body), body.template or tags.template, body.locale or tags.locale)


def _problem(exc: HangTagError) -> Problem:
    if exc.code in NOT_FOUND_CODES or exc.code == "template_not_found":
        status = 404
    else:
        status = 413 if exc.code == "template_too_large" else 422
    return Problem(status, exc.code, "Cannot make these hang tags", str(exc))


@router.post("/v1/label-printers/{device_id}/hang-tags", status_code=202)
async def print_hang_tags(
    device_id: str,
    body: HangTagRequest,
    request: Request,
    runtime: RuntimeDep,
    wait: WaitQuery = 0,
) -> Response:
    """Print a batch of hang tags as one job; ``labels_done``/``labels_total`` show progress."""
    device = label_printer_or_404(runtime, device_id)
    tag_request = _tag_request(runtime, body)
    try:
        batch = await asyncio.to_thread(
            render_batch,
            runtime.hang_tag_templates,
            runtime.catalog,
            _rules(runtime),
            tag_request,
            device.media,
        )
    except HangTagError as exc:
        raise _problem(exc) from exc
    deadline = body.deadline_s or runtime.config.jobs.hang_tags_deadline_s
    return await accept_job(
        runtime, request, device, JobKind.HANG_TAGS, batch.payload, deadline, wait,
        parts=batch.parts,
    )


@router.post(
    "/v1/hang-tags/preview",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The tag, or a sheet"}},
)
async def preview_hang_tags(
    body: HangTagRequest,
    runtime: RuntimeDep,
    device_id: Annotated[
        str | None, Query(description="Lay out for this label printer's media")
    ] = None,
) -> Response:
    """The first tag as a PNG (or a contact sheet of up to 24 tags): nothing is printed.
    Drawn from the very ZPL the printer would get, by the emulator's renderer."""
    if device_id is None:
        device_id = next(
            (d.id for d in runtime.devices.devices.values() if d.kind.value == "label_printer"),
            None,
        )
    media = (
        label_printer_or_404(runtime, device_id).media
        if device_id is not None
        else Media()  # no label printer configured: the default 2 x 3 in tag
    )
    tag_request = _tag_request(runtime, body)
    try:
        png = await asyncio.to_thread(
            render_preview,
            runtime.hang_tag_templates,
            runtime.catalog,
            _rules(runtime),
            tag_request,
            media,
        )
    except HangTagError as exc:
        raise _problem(exc) from exc
    return Response(png, media_type="image/png")


@router.post("/v1/jobs/{job_id}/reprint-in-doubt", status_code=202)
async def reprint_in_doubt(
    job_id: str, request: Request, runtime: RuntimeDep, wait: WaitQuery = 0
) -> Response:
    """Print again the tags of a batch that are in doubt (in flight when the daemon died
    or the link broke), once someone checked they did not come out: a new job with just
    those tags. posbridge never reprints them by itself."""
    job = await runtime.store.get(job_id)
    if job is None:
        raise Problem(404, "job_not_found", "Unknown job", f"no job with id {job_id!r}")
    if not job.doubt:
        raise Problem(
            409, "nothing_in_doubt", "No tags in doubt", f"job {job_id} has no tags in doubt"
        )
    device = label_printer_or_404(runtime, job.device_id)
    payload = await runtime.store.payload(job.id)
    index = await runtime.store.parts_index(job.id)
    formats: list[bytes] = []
    parts: list[PartEnd] = []
    end = 0
    for doubt in job.doubt:
        for part in range(doubt.start, doubt.end):
            start = index[part - 1].end if part else 0
            formats.append(payload[start : index[part].end])
            end += index[part].end - start
            parts.append(PartEnd(end, index[part].units))
    return await accept_job(
        runtime, request, device, JobKind.HANG_TAGS, b"".join(formats),
        runtime.config.jobs.hang_tags_deadline_s, wait, parts=tuple(parts),
    )


# --- templates --------------------------------------------------------------------------


@router.get("/v1/hang-tags/templates")
async def list_tag_templates(runtime: RuntimeDep) -> dict[str, object]:
    return {"templates": runtime.hang_tag_templates.names()}


@router.get("/v1/hang-tags/templates/{name}")
async def get_tag_template(name: str, runtime: RuntimeDep) -> dict[str, object]:
    try:
        return {"name": name, "source": runtime.hang_tag_templates.source(name)}
    except HangTagError as exc:
        raise Problem(404, exc.code, "Unknown template", str(exc)) from exc


class TagTemplateSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str


@router.put("/v1/hang-tags/templates/{name}")
async def put_tag_template(
    name: str, body: TagTemplateSource, runtime: RuntimeDep
) -> dict[str, object]:
    """Store a template (``NAME`` for layout markup, ``NAME.zpl`` for raw ZPL with
    placeholders). Checked before it is stored: syntax, size, sandbox."""
    try:
        await asyncio.to_thread(runtime.hang_tag_templates.put, name, body.source)
    except HangTagError as exc:
        raise _problem(exc) from exc
    return {"name": name}
