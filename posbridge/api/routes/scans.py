"""``/v1/scans/classify`` and ``/v1/config/customer-profile``: the classification of
scans, and the retail platform's customer-profile settings it runs under."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from drivers.scanner.scan import Scan
from drivers.scanner.symbology import Symbology, code_type, infer_symbology
from posbridge.api.deps import RuntimeDep
from posbridge.api.errors import Problem
from posbridge.scanning.rules import ScanConfigError

router = APIRouter(tags=["scans"])


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: Annotated[str, Field(min_length=1, max_length=8192)]
    symbology: Annotated[
        Symbology | None,
        Field(description="What the camera read; inferred from the data when left out"),
    ] = None


@router.post("/v1/scans/classify")
async def classify_scan(body: ClassifyRequest, runtime: RuntimeDep) -> dict[str, object]:
    """Classify data the iPad scanned with its camera, exactly as a scanner's scan is."""
    symbology = body.symbology or infer_symbology(body.data)
    scan = Scan(
        data=body.data,
        raw=body.data.encode(),
        symbology=symbology,
        aim=None,
        code_type=code_type(symbology),
        source="camera",
    )
    result = runtime.classify_scan(scan)
    return {
        "symbology": symbology.value,
        "code_type": scan.code_type,
        "classification": result.to_public(),
    }


@router.get("/v1/config/customer-profile")
async def get_customer_profile(runtime: RuntimeDep) -> dict[str, Any]:
    """The settings in force, as the retail platform serves them."""
    return runtime.customer_profile.to_platform()


@router.put("/v1/config/customer-profile")
async def put_customer_profile(
    runtime: RuntimeDep,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "customer_profile_scanner_identifiers": [
                        {"scanner_code_type": 1024, "regex": "^MEM-(\\d{8})$"}
                    ],
                    "customer_profile_auto_populate_fields": [
                        {"field_path": "email", "regex": "^[^@\\s]+@[^@\\s]+$"}
                    ],
                }
            ]
        ),
    ],
) -> dict[str, Any]:
    """Replace the customer-profile settings (JSON as the retail platform serves it).
    Every regex is checked first; one that cannot be honoured is a 422 naming its entry
    and the settings in force stay as they were."""
    try:
        profile = runtime.set_customer_profile(body)
    except ScanConfigError as exc:
        raise Problem(422, "invalid_customer_profile", "Settings rejected", str(exc)) from exc
    return profile.to_platform()
