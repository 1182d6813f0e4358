"""Receipts: the block document, its layout and rendering to ESC/POS, templates, previews.

* :class:`ReceiptDocument` - the validated block document (the API body);
* :func:`render_document` - document -> printer bytes;
* :class:`TemplateStore` - sandboxed Jinja2 templates: receipt data -> document;
* :func:`render_preview` - document -> PNG or text from an emulated printer.
"""

from __future__ import annotations

from posbridge.receipts.document import Block, BlockType, ReceiptDocument
from posbridge.receipts.preview import PreviewFormat, render_preview
from posbridge.receipts.render import render_document
from posbridge.receipts.templates import TemplateError, TemplateErrorCode, TemplateStore

__all__ = [
    "Block",
    "BlockType",
    "PreviewFormat",
    "ReceiptDocument",
    "TemplateError",
    "TemplateErrorCode",
    "TemplateStore",
    "render_document",
    "render_preview",
]
