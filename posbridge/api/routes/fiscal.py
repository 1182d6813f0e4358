"""``/v1/fiscal/...``: offline mode, fiscal stores, cashboxes, signed transactions, exports.

Shaped like the retail platform's fiscal API. Every transaction answer is committed to
the cashbox's journal before it is sent; sending the same ``receipt_reference`` again
returns the first answer (200 instead of 201). A ``FiscalError`` raised below becomes
problem+json with its status and code (``install_fiscal_errors``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from posbridge.api.deps import RuntimeDep
from posbridge.api.errors import Problem
from posbridge.fiscal.errors import FiscalError

if TYPE_CHECKING:
    from posbridge.fiscal.service import FiscalService

router = APIRouter(tags=["fiscal"])


def install_fiscal_errors(app: FastAPI) -> None:
    """Render ``FiscalError`` as problem+json with its own status and code."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FiscalError)
        return Problem(exc.status, exc.code, "Fiscal request refused", exc.message).to_response()

    app.add_exception_handler(FiscalError, handle)

JsonBody = Annotated[dict[str, Any], Body()]


async def _fiscal(runtime: RuntimeDep) -> FiscalService:
    return await runtime.fiscal()


FiscalDep = Annotated["FiscalService", Depends(_fiscal)]


@router.get("/v1/fiscal/config/offline-mode")
async def get_offline_mode(fiscal: FiscalDep) -> dict[str, Any]:
    return fiscal.offline_view()


@router.patch("/v1/fiscal/config/offline-mode")
async def patch_offline_mode(body: JsonBody, fiscal: FiscalDep) -> dict[str, Any]:
    return await fiscal.patch_offline_mode(body)


@router.get("/v1/fiscal/stores/{store_id}")
async def get_store(store_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    return fiscal.store(store_id).model_dump(mode="json")


@router.patch("/v1/fiscal/stores/{store_id}")
async def patch_store(store_id: str, body: JsonBody, fiscal: FiscalDep) -> dict[str, Any]:
    """Create or change a fiscal store (country, timezone, closure reports, IT exemptions)."""
    return await fiscal.patch_store(store_id, body)


@router.get("/v1/fiscal/stores/{store_id}/cashboxes")
async def list_cashboxes(store_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    return {"cashboxes": fiscal.list_cashboxes(store_id)}


@router.post("/v1/fiscal/stores/{store_id}/cashboxes", status_code=201)
async def create_cashbox(store_id: str, body: JsonBody, fiscal: FiscalDep) -> dict[str, Any]:
    return await fiscal.create_cashbox(store_id, body)


@router.get("/v1/fiscal/cashboxes/{cashbox_id}")
async def get_cashbox(cashbox_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    return fiscal.cashbox_public(fiscal.cashbox(cashbox_id))


@router.patch("/v1/fiscal/cashboxes/{cashbox_id}")
async def patch_cashbox(cashbox_id: str, body: JsonBody, fiscal: FiscalDep) -> dict[str, Any]:
    """Switch the signature unit that signs from now on (a replaced card)."""
    return await fiscal.patch_cashbox(cashbox_id, body)


@router.post("/v1/fiscal/cashboxes/{cashbox_id}/activate")
async def activate(cashbox_id: str, fiscal: FiscalDep, body: JsonBody) -> dict[str, Any]:
    """Activate a cashbox; in Austria this signs its start receipt
    (``{"receipt_reference", "moment"}``)."""
    return await fiscal.activate(cashbox_id, body)


@router.post("/v1/fiscal/cashboxes/{cashbox_id}/deactivate")
async def deactivate(cashbox_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    """Deactivate a cashbox for good."""
    return await fiscal.deactivate(cashbox_id)


@router.post("/v1/fiscal/cashboxes/{cashbox_id}/closures")
async def close_day(cashbox_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    """Italy: the daily closure (Z report) now. It also runs by itself before the first
    sale of a new day when the store's closure reports include ``daily-z``."""
    return await fiscal.close_day(cashbox_id)


@router.post("/v1/fiscal/cashboxes/{cashbox_id}/signature-units/{unit_id}/faults")
async def unit_fault(
    cashbox_id: str, unit_id: str, body: JsonBody, fiscal: FiscalDep
) -> dict[str, Any]:
    """Emulated signature units only: ``{"state": "damaged" | "ok"}``."""
    return fiscal.unit_fault(cashbox_id, unit_id, str(body.get("state")))


@router.post("/v1/fiscal/cashboxes/{cashbox_id}/transactions", status_code=201)
async def transact(cashbox_id: str, body: JsonBody, fiscal: FiscalDep) -> Response:
    """Sign a transaction; 201 with the answer, or 200 with the first answer when this
    ``receipt_reference`` was sent before."""
    answer, new = await fiscal.transact(cashbox_id, body)
    return JSONResponse(answer, status_code=201 if new else 200)


@router.get("/v1/fiscal/cashboxes/{cashbox_id}/exports/dep7")
async def export_dep7(cashbox_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    """The DEP 7 (Datenerfassungsprotokoll) of every receipt the cashbox signed."""
    return await fiscal.export_dep7(cashbox_id)


@router.get("/v1/fiscal/cashboxes/{cashbox_id}/exports/crypto-container")
async def export_crypto_container(cashbox_id: str, fiscal: FiscalDep) -> dict[str, Any]:
    """What a verifier needs: the AES key, and each unit's certificate or public key."""
    return fiscal.export_crypto_container(cashbox_id)
