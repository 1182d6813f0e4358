"""``/v1/devices``: what is configured, its state, status and capabilities."""

from __future__ import annotations

from fastapi import APIRouter

from posbridge.api.deps import RuntimeDep, device_or_404

router = APIRouter(tags=["devices"])


@router.get("/v1/devices")
async def list_devices(runtime: RuntimeDep) -> dict[str, object]:
    return {"devices": [device.to_public() for device in runtime.devices.devices.values()]}


@router.get("/v1/devices/{device_id}")
async def get_device(device_id: str, runtime: RuntimeDep) -> dict[str, object]:
    return device_or_404(runtime, device_id).to_public()
