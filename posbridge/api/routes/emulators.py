"""``/v1/emulators/{id}``: what an emulated device printed, and faults to inject.

Only devices whose URL is ``emu://`` have an emulator; for any other device these routes
answer 404, so nothing here can touch real hardware.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from drivers.emulation import Emulator
from drivers.errors import UnsupportedFeature
from drivers.scanner.emulator import ScanItem, ScannerEmulator
from drivers.scanner.framing import Terminator
from drivers.scanner.symbology import Symbology
from posbridge.api.deps import RuntimeDep, device_or_404
from posbridge.api.errors import Problem
from posbridge.devices import ScannerDevice
from posbridge.runtime import Runtime

router = APIRouter(tags=["emulators"])


def _emulator(runtime: Runtime, device_id: str) -> Emulator:
    emulator = device_or_404(runtime, device_id).emulator()
    if emulator is None:
        raise Problem(
            404,
            "not_emulated",
            "Not an emulated device",
            f"device {device_id!r} is real hardware, not an emulator",
        )
    return emulator


@router.get("/v1/emulators")
async def list_emulators(runtime: RuntimeDep) -> dict[str, object]:
    out = []
    for device in runtime.devices.devices.values():
        emulator = device.emulator()
        if emulator is not None:
            out.append({"id": device.id, "kind": emulator.kind, "state": emulator.state()})
    return {"emulators": out}


@router.get("/v1/emulators/{device_id}")
async def get_emulator(device_id: str, runtime: RuntimeDep) -> dict[str, object]:
    emulator = _emulator(runtime, device_id)
    return {"id": device_id, "kind": emulator.kind, "state": emulator.state()}


@router.get("/v1/emulators/{device_id}/output", response_model=None)
async def emulator_output(
    device_id: str,
    runtime: RuntimeDep,
    format: Annotated[Literal["text", "png"], Query()] = "text",
    label: Annotated[
        int | None, Query(ge=0, description="Label printers: one printed label, from 0")
    ] = None,
) -> Response:
    emulator = _emulator(runtime, device_id)
    if label is not None:
        label_png = getattr(emulator, "label_png", None)
        if label_png is None:
            raise Problem(
                400, "no_labels", "Not a label printer", f"{device_id!r} does not print labels"
            )
        try:
            png = await asyncio.to_thread(label_png, label)
        except IndexError as exc:
            raise Problem(404, "label_not_found", "No such label", str(exc)) from exc
        return Response(png, media_type="image/png")
    if format == "png":
        # Rendering a long paper roll takes a while; keep the loop free for printing.
        png = await asyncio.to_thread(emulator.output_png)
        return Response(png, media_type="image/png")
    return PlainTextResponse(emulator.output_text())


@router.delete("/v1/emulators/{device_id}/output", status_code=204)
async def clear_emulator_output(device_id: str, runtime: RuntimeDep) -> Response:
    _emulator(runtime, device_id).clear_output()
    return Response(status_code=204)


@router.post("/v1/emulators/{device_id}/faults")
async def inject_faults(
    device_id: str,
    runtime: RuntimeDep,
    faults: Annotated[dict[str, str], Body(examples=[{"paper": "out"}, {"link": "down"}])],
) -> dict[str, object]:
    emulator = _emulator(runtime, device_id)
    try:
        emulator.apply_faults(faults)
    except UnsupportedFeature as exc:
        raise Problem(422, "invalid_fault", "Unknown fault", str(exc)) from exc
    device = device_or_404(runtime, device_id)
    if not isinstance(device, ScannerDevice):
        device.changed.set()  # let a held job look again now rather than at the next poll
    return {"id": device_id, "kind": emulator.kind, "state": emulator.state()}


class ScanRequest(BaseModel):
    """What the emulated scanner should scan; ``count`` > 1 sends a burst of copies."""

    model_config = ConfigDict(extra="forbid")
    data: Annotated[str, Field(min_length=1, max_length=8192)]
    symbology: Symbology = Symbology.UNKNOWN
    aim: Annotated[bool | None, Field(description="send an AIM id (default: as configured)")] = (
        None
    )
    suffix: Terminator | None = None
    count: Annotated[int, Field(ge=1, le=100_000)] = 1


@router.post("/v1/emulators/{device_id}/scan")
async def emulate_scan(device_id: str, body: ScanRequest, runtime: RuntimeDep) -> dict[str, object]:
    """Have an emulated scanner scan ``data`` (as a burst of ``count`` when asked)."""
    emulator = _emulator(runtime, device_id)
    if not isinstance(emulator, ScannerEmulator):
        raise Problem(400, "not_a_scanner", "Not a scanner", f"{device_id!r} does not scan")
    if body.count == 1:
        sent = emulator.scan(body.data, body.symbology, aim=body.aim, suffix=body.suffix)
    else:
        items: list[ScanItem] = [(body.data, body.symbology)] * body.count
        sent = emulator.burst(items, aim=body.aim, suffix=body.suffix)
    return {"id": device_id, "bytes_sent": len(sent), "scans": body.count}
