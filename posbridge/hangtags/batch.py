"""A hang-tag request turned into what the printer gets, and into a preview.

``render_batch`` resolves the items (products, prices in the configured pricebook
order), renders every tag through its template to one ZPL format, and returns the
formats back to back with where each ends and how many labels it makes: the job's
payload and part index. ``render_preview`` renders the first tags the same way and
draws that very ZPL with the emulator's renderer, so the preview shows what prints.

Both are CPU-bound and synchronous; the API runs them in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from drivers.zpl.media import Media
from posbridge.hangtags.catalog import Catalog
from posbridge.hangtags.pricing import PricingRules, TagItem, resolve_tags
from posbridge.jobs.models import PartEnd

if TYPE_CHECKING:
    from posbridge.hangtags.templates import HangTagTemplates

__all__ = ["PREVIEW_MAX_TAGS", "RenderedBatch", "TagRequest", "render_batch", "render_preview"]

PREVIEW_MAX_TAGS = 24
_SHEET_COLUMNS = 4
_SHEET_GAP = 12


@dataclass(frozen=True, slots=True)
class TagRequest:
    items: Sequence[TagItem]
    template: str
    locale: str


@dataclass(frozen=True, slots=True)
class RenderedBatch:
    payload: bytes
    parts: tuple[PartEnd, ...]

    @property
    def labels(self) -> int:
        return sum(part.units for part in self.parts)


def render_batch(
    templates: HangTagTemplates,
    catalog: Catalog | None,
    rules: PricingRules,
    request: TagRequest,
    media: Media,
) -> RenderedBatch:
    """Every tag of the request as ZPL; raises HangTagError before anything is kept."""
    tags = resolve_tags(catalog, request.items, rules, request.locale)
    formats: list[bytes] = []
    parts: list[PartEnd] = []
    end = 0
    for tag in tags:
        zpl = templates.render(request.template, tag.context, media, tag.copies)
        formats.append(zpl)
        end += len(zpl)
        parts.append(PartEnd(end, tag.copies))
    return RenderedBatch(b"".join(formats), tuple(parts))


def render_preview(
    templates: HangTagTemplates,
    catalog: Catalog | None,
    rules: PricingRules,
    request: TagRequest,
    media: Media,
) -> bytes:
    """A PNG of the first tag, or a contact sheet of the first tags (up to 24)."""
    # Loaded with the first preview: the renderer brings the barcode and font libraries.
    from drivers.zpl.format import FormatState, parse_format
    from drivers.zpl.render import render_label

    items = request.items[:PREVIEW_MAX_TAGS]
    batch = render_batch(
        templates, catalog, rules, TagRequest(items, request.template, request.locale), media
    )
    images: list[Image.Image] = []
    start = 0
    state = FormatState(dpi=media.dpi)
    for part in batch.parts:
        label = parse_format(batch.payload[start : part.end], state)
        images.append(render_label(label).convert("L"))
        start = part.end
    return _png(images[0] if len(images) == 1 else _sheet(images), media.dpi)


def _sheet(images: Sequence[Image.Image]) -> Image.Image:
    columns = min(_SHEET_COLUMNS, len(images))
    rows = -(-len(images) // columns)
    cell_w = max(image.width for image in images)
    cell_h = max(image.height for image in images)
    sheet = Image.new(
        "L",
        (columns * cell_w + (columns + 1) * _SHEET_GAP, rows * cell_h + (rows + 1) * _SHEET_GAP),
        200,  # grey between the tags, so white tags show their edges
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        x = _SHEET_GAP + column * (cell_w + _SHEET_GAP)
        y = _SHEET_GAP + row * (cell_h + _SHEET_GAP)
        sheet.paste(image, (x, y))
    return sheet


def _png(image: Image.Image, dpi: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()
