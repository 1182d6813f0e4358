"""``GET /v1/health``: no token, nothing private; for load balancers and technicians."""

from __future__ import annotations

from fastapi import APIRouter

from posbridge import __version__
from posbridge.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/v1/health")
async def health(runtime: RuntimeDep) -> dict[str, object]:
    healthy = runtime.healthy()
    return {"status": "ok" if healthy else "degraded", "version": __version__}
