"""Dependency aliases shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from posbridge.api.errors import Problem
from posbridge.devices import Device, LabelPrinterDevice, ReceiptPrinterDevice
from posbridge.runtime import Runtime

__all__ = [
    "RuntimeDep",
    "device_or_404",
    "get_runtime",
    "label_printer_or_404",
    "receipt_printer_or_404",
]


async def get_runtime(request: Request) -> Runtime:
    # async so FastAPI does not hop to its thread pool for an attribute lookup
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def device_or_404(runtime: Runtime, device_id: str) -> Device:
    device = runtime.devices.get(device_id)
    if device is None:
        known = ", ".join(sorted(runtime.devices.devices)) or "none"
        raise Problem(
            404,
            "device_not_found",
            "Unknown device",
            f"no device with id {device_id!r} (configured: {known})",
        )
    return device


def _wrong_kind(device: Device, wanted: str) -> Problem:
    return Problem(
        404,
        "device_not_found",
        "Unknown device",
        f"{device.id!r} is a {device.kind.value}, not a {wanted}",
    )


def receipt_printer_or_404(runtime: Runtime, device_id: str) -> ReceiptPrinterDevice:
    device = device_or_404(runtime, device_id)
    if not isinstance(device, ReceiptPrinterDevice):
        raise _wrong_kind(device, "receipt printer")
    return device


def label_printer_or_404(runtime: Runtime, device_id: str) -> LabelPrinterDevice:
    device = device_or_404(runtime, device_id)
    if not isinstance(device, LabelPrinterDevice):
        raise _wrong_kind(device, "label printer")
    return device
