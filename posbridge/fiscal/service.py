"""The fiscal cashboxes of this store: configuration, signing, the journal, exports.

The journal is the truth. Every answer the API gives for a transaction is committed to
the journal first, together with the cashbox's signing state after it (receipt
counter, turnover counter, last JWS: never the AES key); at start each cashbox's state
is rebuilt from its last journal entry, so a crash can lose only what was never
answered. Each cashbox has one writer: its journal lock is held from the idempotency
check through signing to the commit, so concurrent requests are serialised.

Configuration (offline mode, stores, cashboxes, their keys) lives in
``STATE_DIR/fiscal.json`` (mode 0600: it holds the AES keys and the software units'
private keys), written atomically.

Austria (``rksv-at``): receipts signed per the RKSV with a software signature unit;
while the unit is out of order, receipts carry the failure marker (the RKSV's
"Sicherheitseinrichtung ausgefallen") and the cashbox is ``offline``; the first
receipt after it is back must be a zero receipt (Sammelbeleg), which is issued
automatically before the transaction that found the unit back, unless that
transaction is a zero receipt itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from drivers.fiscal.rksv import (
    InvalidReceipt,
    ReceiptInput,
    ReceiptKind,
    ReceiptSequenceError,
    RemoteSignatureUnit,
    RemoteUnitState,
    RksvCashbox,
    SignatureUnitUnavailable,
    SignedReceipt,
    SoftwareSignatureUnit,
    TaxSet,
    ZeroReceiptRequired,
    crypto_container,
    dep7,
    parse_jws,
)
from posbridge._files import write_atomically
from posbridge.fiscal.errors import FiscalError
from posbridge.fiscal.journal import Entry, EntryKind, Journal
from posbridge.fiscal.models import (
    MARKER_TRAINING,
    MARKER_UNIT_FAILED,
    MARKER_VOID,
    ClosureReport,
    EpsonItCashbox,
    FiscalStore,
    OfflineMode,
    OfflineModePatch,
    OfflineModeView,
    TransactionRequest,
    TransactionType,
    parse_cashbox,
)
from posbridge.fiscal.models import (
    RksvCashbox as RksvCashboxModel,
)
from posbridge.fiscal.offline import (
    Action,
    CashboxState,
    Country,
    Decision,
    decide,
    validate_strategy,
)

__all__ = ["FiscalError", "FiscalService"]

log = logging.getLogger(__name__)

CONFIG_FILE = "fiscal.json"
OUTAGE_REPORT_AFTER = timedelta(hours=48)
# Tills send their own clock's time; two of them a moment apart, or a slightly slow one,
# must not make a receipt older than the one signed before it (RKSV times never go back).
CLOCK_SKEW = timedelta(seconds=60)
WARNING_OUTAGE = "rksv_unit_outage_over_48h"
WARNING_JOURNAL = "fiscal_journal_broken"

_TAX_SETS = {
    "20": TaxSet.NORMAL,
    "10": TaxSet.REDUCED_1,
    "13": TaxSet.REDUCED_2,
    "0": TaxSet.NULL,
    "19": TaxSet.SPECIAL,
    "special": TaxSet.SPECIAL,
}
_KINDS = {
    TransactionType.SALE: ReceiptKind.STANDARD,
    TransactionType.RETURN: ReceiptKind.STANDARD,
    TransactionType.VOID: ReceiptKind.STORNO,
    TransactionType.TRAINING: ReceiptKind.TRAINING,
    TransactionType.ZERO: ReceiptKind.NULL,
    TransactionType.START: ReceiptKind.START,
}


@dataclass
class _Cashbox:
    """A configured cashbox and, for RKSV, its signing state and units."""

    model: RksvCashboxModel | EpsonItCashbox
    active_unit: str | None = None
    activated: bool = False
    deactivated: bool = False
    blocked: str | None = None
    outage_since: datetime | None = None
    box: RksvCashbox | None = None
    units: dict[str, SoftwareSignatureUnit | RemoteSignatureUnit] = field(default_factory=dict)
    pending: list[tuple[str, ReceiptInput]] = field(default_factory=list)
    """Late signing: (receipt_reference, receipt) answered TEMP_SIGNED, not yet signed."""
    references: set[str] = field(default_factory=set)
    """Every receipt_reference journaled, so a new one needs no journal read."""
    inflight: dict[str, tuple[dict[str, Any], asyncio.Task[Any]]] = field(default_factory=dict)
    """Signed, answer ready, its journal entry on the way to the disk."""
    open_day: str | None = None
    """Italy: the date (ISO) of the documents since the last daily closure, if any."""

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def state(self) -> CashboxState:
        if self.deactivated:
            return CashboxState.DEACTIVATED
        if self.blocked is not None:
            return CashboxState.BLOCKED
        if not self.activated:
            return CashboxState.PROVISIONED
        if self.outage_since is not None or self.pending:
            return CashboxState.OFFLINE
        return CashboxState.ONLINE

    def unit(self) -> SoftwareSignatureUnit | RemoteSignatureUnit:
        assert self.active_unit is not None
        return self.units[self.active_unit]


class FiscalService:
    """Use ``await FiscalService.open(state_dir)``; ``aclose()`` at the end."""

    def __init__(self, state_dir: Path, journal: Journal) -> None:
        self.state_dir = state_dir
        self.journal = journal
        self.offline_mode = OfflineMode()
        self.stores: dict[str, FiscalStore] = {}
        self.cashboxes: dict[str, _Cashbox] = {}
        self._config_lock = asyncio.Lock()

    # --- life cycle ----------------------------------------------------------------

    @classmethod
    async def open(cls, state_dir: Path) -> FiscalService:
        journal = await Journal.open(state_dir)
        service = cls(state_dir, journal)
        try:
            await asyncio.to_thread(service._load_config)
            broken = {r.cashbox_id: r for r in journal.verification if not r.ok}
            for cashbox in service.cashboxes.values():
                await service._restore(cashbox)
                report = broken.get(cashbox.id)
                if report is not None:
                    fault = report.fault
                    cashbox.blocked = (
                        f"the fiscal journal fails its check at entry "
                        f"{fault.number if fault else '?'} ({fault.detail if fault else ''}):"
                        " nothing is signed on top of it"
                    )
                    log.error("fiscal cashbox %s blocked: %s", cashbox.id, cashbox.blocked)
        except BaseException:
            await journal.aclose()
            raise
        return service

    async def aclose(self) -> None:
        await self.journal.aclose()

    def _load_config(self) -> None:
        path = self.state_dir / CONFIG_FILE
        if not path.exists():
            return
        data = json.loads(path.read_text(encoding="utf-8"))
        self.offline_mode = OfflineMode.model_validate(data.get("offline_mode", {}))
        self.stores = {s["id"]: FiscalStore.model_validate(s) for s in data.get("stores", [])}
        for raw in data.get("cashboxes", []):
            cashbox = _Cashbox(
                model=parse_cashbox(raw["model"]),
                active_unit=raw.get("active_unit"),
                activated=raw.get("activated", False),
                deactivated=raw.get("deactivated", False),
            )
            for unit_id, pem in raw.get("unit_keys", {}).items():
                cashbox.units[unit_id] = _load_unit(cashbox.model, unit_id, pem)
            self.cashboxes[cashbox.id] = cashbox

    def _save_config(self) -> None:
        data = {
            "offline_mode": self.offline_mode.model_dump(mode="json"),
            "stores": [store.model_dump(mode="json") for store in self.stores.values()],
            "cashboxes": [
                {
                    "model": _model_with_secrets(cashbox.model),
                    "active_unit": cashbox.active_unit,
                    "activated": cashbox.activated,
                    "deactivated": cashbox.deactivated,
                    "unit_keys": {
                        unit_id: _unit_secrets(unit) for unit_id, unit in cashbox.units.items()
                    },
                }
                for cashbox in self.cashboxes.values()
            ],
        }
        # mkstemp makes the file 0600, and the rename keeps that: the keys stay private.
        write_atomically(self.state_dir, CONFIG_FILE, json.dumps(data, indent=2))

    async def _save(self) -> None:
        await asyncio.to_thread(self._save_config)

    async def _restore(self, cashbox: _Cashbox) -> None:
        """The signing state after the cashbox's last journaled receipt."""
        model = cashbox.model
        if not isinstance(model, RksvCashboxModel):
            await self._restore_it(cashbox)
            return
        config = model.provider_config
        state: dict[str, Any] | None = None
        outage: str | None = None
        pending: dict[str, ReceiptInput] = {}
        async for entry in self._entries(cashbox.id):
            payload = entry.payload
            if entry.receipt_reference is not None:
                cashbox.references.add(entry.receipt_reference)
            if "rksv_state" in payload:
                state = payload["rksv_state"]
                outage = payload.get("outage_since")
            if "pending" in payload and entry.receipt_reference is not None:
                pending[entry.receipt_reference] = _pending_receipt(payload["pending"])
            if "late_for" in payload:
                pending.pop(payload["late_for"], None)
        cashbox.pending = list(pending.items())
        key = config.aes_key_bytes()
        if state is None:
            cashbox.box = RksvCashbox(config.cashbox_id, key, provider=config.provider)
        else:
            cashbox.box = RksvCashbox.from_dict({**state, "aes_key": _b64(key)})
        cashbox.outage_since = None if outage is None else datetime.fromisoformat(outage)

    async def _restore_it(self, cashbox: _Cashbox) -> None:
        """The references and the open day of an Italian cashbox, from its journal."""
        async for entry in self._entries(cashbox.id):
            if entry.receipt_reference is not None:
                cashbox.references.add(entry.receipt_reference)
            if "document" in entry.payload:
                # Entries written before the business day was journaled carry only the
                # printer's date.
                cashbox.open_day = entry.payload.get("day", entry.payload["document"]["date"])
            if entry.kind == EntryKind.CLOSURE:
                cashbox.open_day = None

    async def _entries(self, cashbox_id: str) -> AsyncIterator[Entry]:
        """Every journal entry of a cashbox, oldest first, read a page at a time."""
        after = 0
        while entries := await self.journal.entries(cashbox_id, after=after, limit=500):
            for entry in entries:
                yield entry
            after = entries[-1].number

    async def close_day(self, cashbox_id: str) -> dict[str, Any]:
        """Italy: the daily closure (Z report) now."""
        cashbox = self.cashbox(cashbox_id)
        if not isinstance(cashbox.model, EpsonItCashbox):
            raise FiscalError(409, "not_rt", f"{cashbox_id} has no daily closure (not an RT)")
        async with self.journal.cashbox_lock(cashbox_id):
            return await self._close_day(cashbox)

    async def _close_day(self, cashbox: _Cashbox) -> dict[str, Any]:
        from drivers.fiscal.epson_it import FiscalPrinterError
        from posbridge.fiscal import italy

        assert isinstance(cashbox.model, EpsonItCashbox)
        try:
            result = await italy.close_day(cashbox.model)
        except italy.PrinterUnreachable as exc:
            raise FiscalError(503, "fiscal_printer_unreachable", str(exc)) from exc
        except FiscalPrinterError as exc:
            raise FiscalError(503, exc.code, f"the fiscal printer refused: {exc}") from exc
        closure = {
            "z_number": result.z_number,
            "daily_amount": None if result.daily_amount is None else str(result.daily_amount),
            "date_time": None if result.date_time is None else result.date_time.isoformat(),
        }
        await self.journal.append(cashbox.id, EntryKind.CLOSURE, {"closure": closure})
        cashbox.open_day = None
        return closure

    # --- offline mode and stores ------------------------------------------------------

    def offline_view(self) -> dict[str, Any]:
        return OfflineModeView.of(self.offline_mode).model_dump(mode="json")

    async def patch_offline_mode(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            patch = OfflineModePatch.model_validate(body)
            for country, setting in patch.offline_countries.items():
                if setting.strategy is not None:
                    validate_strategy(country, setting.strategy)
            updated = self.offline_mode.patched(patch)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except ValueError as exc:
            code = getattr(exc, "code", "invalid_offline_mode")
            raise FiscalError(422, code, str(exc)) from exc
        async with self._config_lock:
            self.offline_mode = updated
            await self._save()
        return self.offline_view()

    def store(self, store_id: str) -> FiscalStore:
        store = self.stores.get(store_id)
        if store is None:
            raise FiscalError(404, "fiscal_store_not_found", f"no fiscal store {store_id!r}")
        return store

    async def patch_store(self, store_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        current = self.stores.get(store_id)
        merged = {**(current.model_dump(mode="json") if current else {}), **body, "id": store_id}
        try:
            store = FiscalStore.model_validate(merged)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        if current is not None and current.country != store.country and any(
            c.model.store_id == store_id for c in self.cashboxes.values()
        ):
            raise FiscalError(
                409, "fiscal_store_has_cashboxes", "a store with cashboxes cannot change country"
            )
        async with self._config_lock:
            self.stores[store_id] = store
            await self._save()
        return store.model_dump(mode="json")

    # --- cashboxes ---------------------------------------------------------------------

    def cashbox(self, cashbox_id: str) -> _Cashbox:
        cashbox = self.cashboxes.get(cashbox_id)
        if cashbox is None:
            raise FiscalError(
                404, "fiscal_cashbox_not_found", f"no fiscal cashbox {cashbox_id!r}"
            )
        return cashbox

    def cashbox_public(self, cashbox: _Cashbox) -> dict[str, Any]:
        model = cashbox.model.model_dump(mode="json")
        warnings = list(cashbox.model.warning_codes)
        if cashbox.blocked is not None:
            warnings.append(WARNING_JOURNAL)
        if cashbox.outage_since is not None and cashbox.box is not None:
            last = cashbox.box.last_when
            if last is not None and last - cashbox.outage_since > OUTAGE_REPORT_AFTER:
                warnings.append(WARNING_OUTAGE)
        return {
            **model,
            "state": cashbox.state.value,
            "warning_codes": warnings,
            "blocked_reason": cashbox.blocked,
            "active_signature_unit": cashbox.active_unit,
            "last_number": cashbox.box.receipt_number if cashbox.box else None,
        }

    def list_cashboxes(self, store_id: str) -> list[dict[str, Any]]:
        self.store(store_id)
        return [
            self.cashbox_public(c) for c in self.cashboxes.values() if c.model.store_id == store_id
        ]

    async def create_cashbox(self, store_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        store = self.store(store_id)
        try:
            model = parse_cashbox({**body, "store_id": store_id})
        except ValidationError as exc:
            raise _invalid(exc) from exc
        if model.id in self.cashboxes:
            raise FiscalError(409, "fiscal_cashbox_exists", f"cashbox {model.id!r} exists")
        wanted = {"rksv-at": Country.AT, "epson-it": Country.IT}[model.fiscal_provider_id]
        if store.country != wanted:
            raise FiscalError(
                422,
                "fiscal_provider_mismatch",
                f"{model.fiscal_provider_id} is for {wanted.value}, store {store_id} is in "
                f"{store.country}",
            )
        cashbox = _Cashbox(model=model)
        if isinstance(model, RksvCashboxModel):
            for index, unit in enumerate(model.provider_config.units):
                if unit.type == "remote":
                    try:
                        cashbox.units[unit.id] = await RemoteSignatureUnit.connect(
                            str(unit.url), token=unit.token.get_secret_value(), unit_id=unit.id
                        )
                    except SignatureUnitUnavailable as exc:
                        raise FiscalError(503, exc.code, str(exc)) from exc
                else:
                    cashbox.units[unit.id] = _new_unit(model, unit.id, index)
            cashbox.active_unit = model.provider_config.units[0].id
            await self._restore(cashbox)
        async with self._config_lock:
            self.cashboxes[model.id] = cashbox
            await self._save()
        return self.cashbox_public(cashbox)

    async def patch_cashbox(self, cashbox_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        cashbox = self.cashbox(cashbox_id)
        unknown = set(body) - {"active_signature_unit"}
        if unknown:
            raise FiscalError(422, "invalid_request", f"cannot change {sorted(unknown)}")
        unit = body.get("active_signature_unit")
        if unit is not None:
            if unit not in cashbox.units:
                raise FiscalError(
                    422, "fiscal_unit_not_found", f"cashbox {cashbox_id} has no unit {unit!r}"
                )
            async with self.journal.cashbox_lock(cashbox_id), self._config_lock:
                cashbox.active_unit = unit
                await self._save()
        return self.cashbox_public(cashbox)

    def unit_fault(self, cashbox_id: str, unit_id: str, state: str) -> dict[str, Any]:
        cashbox = self.cashbox(cashbox_id)
        unit = cashbox.units.get(unit_id)
        model = cashbox.model
        configured = (
            {u.id: u for u in model.provider_config.units}
            if isinstance(model, RksvCashboxModel)
            else {}
        )
        if unit is None:
            raise FiscalError(404, "fiscal_unit_not_found", f"no unit {unit_id!r}")
        config = configured.get(unit_id)
        if (
            config is None
            or config.type != "software"
            or not config.emulated
            or not isinstance(unit, SoftwareSignatureUnit)
        ):
            raise FiscalError(409, "not_emulated", f"unit {unit_id} is not an emulated unit")
        if state not in ("damaged", "ok"):
            raise FiscalError(422, "invalid_fault", "state is 'damaged' or 'ok'")
        unit.damaged = state == "damaged"
        return {"unit": unit_id, "state": state}

    async def activate(self, cashbox_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        cashbox = self.cashbox(cashbox_id)
        if cashbox.deactivated:
            raise FiscalError(409, "fiscal_cashbox_deactivated", f"{cashbox_id} is deactivated")
        if cashbox.activated:
            raise FiscalError(409, "fiscal_cashbox_active", f"{cashbox_id} is already active")
        answer: dict[str, Any] | None = None
        if isinstance(cashbox.model, RksvCashboxModel):
            # AT: the start receipt, signed by a working unit, is the activation.
            request = {**body, "type": "start"}
            answer, _ = await self._transact(cashbox, request, activating=True)
        else:
            async with self.journal.cashbox_lock(cashbox_id):
                await self.journal.append(cashbox_id, EntryKind.ACTIVATION, {"body": dict(body)})
        async with self._config_lock:
            cashbox.activated = True
            await self._save()
        return {"cashbox": self.cashbox_public(cashbox), "transaction": answer}

    async def deactivate(self, cashbox_id: str) -> dict[str, Any]:
        cashbox = self.cashbox(cashbox_id)
        if cashbox.deactivated:
            raise FiscalError(409, "fiscal_cashbox_deactivated", f"{cashbox_id} is deactivated")
        async with self.journal.cashbox_lock(cashbox_id):
            await self.journal.append(cashbox_id, EntryKind.DEACTIVATION, {})
            async with self._config_lock:
                cashbox.deactivated = True
                await self._save()
        return self.cashbox_public(cashbox)

    # --- transactions ------------------------------------------------------------------

    async def transact(
        self, cashbox_id: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """The answer to a transaction, and whether it is new (False: a replay)."""
        cashbox = self.cashbox(cashbox_id)
        return await self._transact(cashbox, body, activating=False)

    async def _transact(
        self, cashbox: _Cashbox, body: Mapping[str, Any], *, activating: bool
    ) -> tuple[dict[str, Any], bool]:
        store = self.store(cashbox.model.store_id)
        try:
            request = TransactionRequest.for_country(body, store.country)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        if request.type is TransactionType.START and not activating:
            raise FiscalError(
                422, "fiscal_start_via_activate", "the start receipt is signed by activating"
            )
        reference = request.receipt_reference
        async with self.journal.cashbox_lock(cashbox.id):
            if reference in cashbox.inflight:
                answer, commit = cashbox.inflight[reference]
                replay = True
            elif reference in cashbox.references:
                first = await self.journal.find(cashbox.id, reference)
                assert first is not None
                return first.payload["answer"], False
            elif isinstance(cashbox.model, EpsonItCashbox):
                answer, commit = await self._register_it(cashbox, store, request, body)
                replay = False
            else:
                answer, commit = await self._decide_and_sign(cashbox, store, request, body)
                replay = False
        # Only the commit is awaited outside the lock: the next receipt of this cashbox is
        # signed meanwhile, and its entry commits after this one (the writer keeps order).
        await commit
        return answer, not replay

    async def _register_it(
        self,
        cashbox: _Cashbox,
        store: FiscalStore,
        request: TransactionRequest,
        body: Mapping[str, Any],
    ) -> tuple[dict[str, Any], asyncio.Task[Any]]:
        """Italy: the RT printer registers and prints; the answer names its document."""
        from drivers.fiscal.epson_it import FiscalPrinterError
        from posbridge.fiscal import italy

        assert isinstance(cashbox.model, EpsonItCashbox)
        if cashbox.blocked is not None:
            raise FiscalError(409, WARNING_JOURNAL, cashbox.blocked)
        if request.type not in (TransactionType.SALE, TransactionType.VOID, TransactionType.RETURN):
            raise FiscalError(
                422, "fiscal_type_unsupported", f"an RT printer has no {request.type.value}"
            )
        original: dict[str, Any] | None = None
        if request.original is not None:
            entry = await self.journal.find(cashbox.id, request.original)
            original = None if entry is None else entry.payload.get("document")
            if original is None:
                raise FiscalError(
                    422,
                    "fiscal_original_not_found",
                    f"original: no registered receipt {request.original!r} on {cashbox.id}",
                )
        day = request.moment.astimezone(ZoneInfo(store.timezone)).date().isoformat()
        if (
            ClosureReport.DAILY_Z in store.closure_reports
            and cashbox.open_day is not None
            and day > cashbox.open_day
        ):
            # The first sale of a new day closes the day before (chiusura giornaliera).
            await self._close_day(cashbox)
        setting = self.offline_mode.setting(Country.IT)
        decision = decide(Country.IT, setting, True, cashbox.state)
        if decision.refused:
            raise _refusal(decision)
        try:
            result = await italy.register(cashbox.model, store, request, original)
        except italy.PrinterUnreachable as exc:
            offline = decide(Country.IT, setting, False, cashbox.state)
            if offline.action is not Action.RECORD_UNSIGNED:
                raise _refusal(offline, f" ({exc})") from exc
            answer: dict[str, Any] = {
                "receipt_reference": request.receipt_reference,
                "state": "FAILED",
                "number": None,
                "series": cashbox.model.transaction_series,
                "signature": None,
                "signature_items": [
                    {"caption": marker, "format": "TEXT", "data": marker}
                    for marker in offline.markers
                ],
                "markers": list(offline.markers),
            }
            payload = {"request": dict(body), "answer": answer, "unsigned": True}
            return answer, self._queue(cashbox, request.receipt_reference, payload, answer)
        except FiscalPrinterError as exc:
            raise FiscalError(503, exc.code, f"the fiscal printer refused: {exc}") from exc
        document = italy.document(result)
        # The store's day of the sale, not the printer's date: the next sale's day is
        # compared with it, and the two clocks need not agree to the day.
        cashbox.open_day = day
        caption = f"DOCUMENTO COMMERCIALE N. {result.z_number:04d}-{result.number:04d}"
        answer = {
            "receipt_reference": request.receipt_reference,
            "state": "OK",
            "number": result.number,
            "series": f"Z{result.z_number:04d}",
            "signature": None,
            "signature_items": [{"caption": caption, "format": "TEXT", "data": caption}],
            "markers": [],
        }
        payload = {"request": dict(body), "answer": answer, "document": document, "day": day}
        return answer, self._queue(cashbox, request.receipt_reference, payload, answer)

    async def _decide_and_sign(
        self,
        cashbox: _Cashbox,
        store: FiscalStore,
        request: TransactionRequest,
        body: Mapping[str, Any],
    ) -> tuple[dict[str, Any], asyncio.Task[Any]]:
        """Under the cashbox's lock: everything up to the journal entry being queued."""
        activating = request.type is TransactionType.START
        if cashbox.blocked is not None:
            raise FiscalError(409, WARNING_JOURNAL, cashbox.blocked)
        unit = cashbox.unit()
        available = await _available(unit)
        if cashbox.pending and available:
            await self._sign_backlog(cashbox)
        state = CashboxState.ONLINE if activating else cashbox.state
        decision = decide(
            store.country,
            self.offline_mode.setting(Country(store.country)),
            available,
            state,
        )
        if decision.refused:
            raise _refusal(decision)
        if request.amounts is None and request.items is None and request.type not in (
            TransactionType.ZERO,
            TransactionType.START,
        ):
            raise FiscalError(
                422, "invalid_request", "amounts: an RKSV storno carries the amounts it voids"
            )
        zone = ZoneInfo(store.timezone)
        receipt = ReceiptInput(
            receipt_id=request.receipt_reference,
            when=_issue_time(cashbox, request.moment.astimezone(zone).replace(tzinfo=None)),
            amounts={_tax_set(rate): amount for rate, amount in request.tax_amounts.items()},
            kind=_KINDS[request.type],
        )
        if decision.action is Action.TEMP_SIGN:
            return await self._temp_sign(cashbox, request, receipt, body)
        closing = await self._month_closing(cashbox, store, receipt)
        if decision.action not in (Action.SIGN, Action.SIGN_WITH_FAILURE_MARKER):
            raise FiscalError(
                501,
                "fiscal_strategy_not_wired",
                f"the {decision.action.value} strategy does not apply to RKSV cashboxes",
            )
        answer, commit = await self._sign_and_journal(cashbox, request, receipt, body)
        if closing is None:
            return answer, commit
        # The month's (or year's) zero receipt was queued first; both must be on disk.

        return answer, _after(closing, commit)

    async def _month_closing(
        self, cashbox: _Cashbox, store: FiscalStore, receipt: ReceiptInput
    ) -> asyncio.Task[Any] | None:
        """The RKSV Monatsbeleg (Jahresbeleg in December): a signed zero receipt for the
        month the last receipt was in, issued before the first receipt of a new month
        (on the store's calendar). None when no month ended or the store issues its own."""
        box = cashbox.box
        assert box is not None
        last = box.last_when
        reports = store.closure_reports
        if last is None or (receipt.when.year, receipt.when.month) <= (last.year, last.month):
            return None
        if ClosureReport.MONTHLY_ZERO not in reports and not (
            last.month == 12 and ClosureReport.YEARLY_ZERO in reports
        ):
            return None
        name = f"Jahresbeleg-{last.year}" if last.month == 12 else f"Monatsbeleg-{last:%Y-%m}"
        zero = ReceiptInput(receipt_id=name, when=receipt.when, kind=ReceiptKind.NULL)
        signed = await self._sign(cashbox, box, zero, cashbox.unit())
        return self._journal(cashbox, None, signed, {"automatic": name})[1]

    async def _temp_sign(
        self,
        cashbox: _Cashbox,
        request: TransactionRequest,
        receipt: ReceiptInput,
        body: Mapping[str, Any],
    ) -> tuple[dict[str, Any], asyncio.Task[Any]]:
        """Late signing: journal the transaction unsigned and answer TEMP_SIGNED; it is
        signed, in order and with its own time, as soon as the unit is back."""
        answer: dict[str, Any] = {
            "receipt_reference": request.receipt_reference,
            "state": "TEMP_SIGNED",
            "number": None,
            "series": cashbox.model.transaction_series,
            "signature": None,
            "signature_items": [],
            "markers": [],
        }
        cashbox.pending.append((request.receipt_reference, receipt))
        payload = {"request": dict(body), "answer": answer, "pending": _pending_payload(receipt)}
        return answer, self._queue(cashbox, request.receipt_reference, payload, answer)

    async def _sign_backlog(self, cashbox: _Cashbox) -> None:
        """Sign what late signing left, oldest first, each with its original time."""
        box, unit = cashbox.box, cashbox.unit()
        assert box is not None
        while cashbox.pending and await _available(unit):
            reference, receipt = cashbox.pending[0]
            signed = await self._sign(cashbox, box, receipt, unit)
            state = box.to_dict()
            state.pop("aes_key")
            try:
                await self.journal.append(
                    cashbox.id,
                    EntryKind.LATE_SIGNATURE,
                    {
                        "late_for": reference,
                        "answer": _answer(cashbox, None, signed),
                        "receipt": _receipt_payload(signed),
                        "rksv_state": state,
                        "outage_since": None,
                    },
                )
            except BaseException:
                await self._restore(cashbox)
                raise
            cashbox.pending.pop(0)

    async def _sign_and_journal(
        self,
        cashbox: _Cashbox,
        request: TransactionRequest,
        receipt: ReceiptInput,
        body: Mapping[str, Any],
    ) -> tuple[dict[str, Any], asyncio.Task[Any]]:
        box, unit = cashbox.box, cashbox.unit()
        assert box is not None
        try:
            signed = await self._sign(cashbox, box, receipt, unit)
        except ZeroReceiptRequired:
            # The unit is back: a signed zero receipt (Sammelbeleg) comes first.
            zero = ReceiptInput(
                receipt_id=f"{receipt.receipt_id}-S",
                when=receipt.when,
                kind=ReceiptKind.NULL,
            )
            zero_signed = await self._sign(cashbox, box, zero, unit)
            _, zero_commit = self._journal(cashbox, None, zero_signed, {"automatic": "zero"})
            signed = await self._sign(cashbox, box, receipt, unit)
            answer, commit = self._journal(cashbox, request, signed, body)
            return answer, _after(zero_commit, commit)
        return self._journal(cashbox, request, signed, body)

    async def _sign(
        self,
        cashbox: _Cashbox,
        box: RksvCashbox,
        receipt: ReceiptInput,
        unit: SoftwareSignatureUnit | RemoteSignatureUnit,
    ) -> SignedReceipt:
        try:
            signed = await box.sign(receipt, unit, unit_available=await _available(unit))
        except ZeroReceiptRequired:
            raise
        except (InvalidReceipt, ReceiptSequenceError) as exc:
            raise FiscalError(422, exc.code, str(exc)) from exc
        except Exception as exc:
            # SignatureUnitUnavailable for a start receipt, and anything unexpected.
            code = getattr(exc, "code", "fiscal_signing_failed")
            raise FiscalError(503, code, f"signing failed: {exc}") from exc
        return signed

    def _journal(
        self,
        cashbox: _Cashbox,
        request: TransactionRequest | None,
        signed: SignedReceipt,
        body: Mapping[str, Any],
    ) -> tuple[dict[str, Any], asyncio.Task[Any]]:
        box = cashbox.box
        assert box is not None
        if signed.failed:
            cashbox.outage_since = cashbox.outage_since or signed_time(box)
        elif signed.kind is ReceiptKind.NULL or signed.kind is ReceiptKind.START:
            cashbox.outage_since = None
        answer = _answer(cashbox, request, signed)
        state = box.to_dict()
        state.pop("aes_key")  # the key stays in the configuration, not in every entry
        payload = {
            "request": dict(body),
            "answer": answer,
            "receipt": _receipt_payload(signed),
            "rksv_state": state,
            "outage_since": None
            if cashbox.outage_since is None
            else cashbox.outage_since.isoformat(),
        }
        reference = request.receipt_reference if request else signed.receipt_id
        return answer, self._queue(cashbox, reference, payload, answer)

    def _queue(
        self,
        cashbox: _Cashbox,
        reference: str,
        payload: Mapping[str, Any],
        answer: dict[str, Any],
    ) -> asyncio.Task[Any]:
        """Queue the entry (the task starts before any later one: the lock is still held)
        and remember it until it is on disk. An entry that cannot be written blocks the
        cashbox: receipts signed after it chain to a receipt the journal does not have,
        so nothing more is signed until a restart has checked the journal."""

        async def commit() -> None:
            try:
                await self.journal.append(
                    cashbox.id, EntryKind.TRANSACTION, payload, receipt_reference=reference
                )
            except BaseException as exc:
                cashbox.blocked = (
                    f"writing the fiscal journal failed ({exc}); restart posbridge to check "
                    "the journal before anything more is signed"
                )
                log.error("fiscal cashbox %s blocked: %s", cashbox.id, cashbox.blocked)
                raise FiscalError(503, "fiscal_journal_write_failed", cashbox.blocked) from exc
            finally:
                cashbox.inflight.pop(reference, None)
            cashbox.references.add(reference)

        task = asyncio.get_running_loop().create_task(commit())
        cashbox.inflight[reference] = (answer, task)
        return task

    # --- exports -----------------------------------------------------------------------

    async def _receipts(self, cashbox: _Cashbox) -> list[SignedReceipt]:
        return [
            _signed_from_journal(cashbox, entry.payload["receipt"])
            async for entry in self._entries(cashbox.id)
            if "receipt" in entry.payload
        ]

    async def export_dep7(self, cashbox_id: str) -> dict[str, Any]:
        cashbox = self._rksv(cashbox_id)
        return dep7(await self._receipts(cashbox), cashbox.units.values())

    def export_crypto_container(self, cashbox_id: str) -> dict[str, Any]:
        cashbox = self._rksv(cashbox_id)
        assert isinstance(cashbox.model, RksvCashboxModel)
        return crypto_container(
            cashbox.model.provider_config.aes_key_bytes(), cashbox.units.values()
        )

    def _rksv(self, cashbox_id: str) -> _Cashbox:
        cashbox = self.cashbox(cashbox_id)
        if not isinstance(cashbox.model, RksvCashboxModel):
            raise FiscalError(409, "not_rksv", f"{cashbox_id} is not an RKSV cashbox")
        return cashbox


def _refusal(decision: Decision, more: str = "") -> FiscalError:
    """A refused decision as the API answers it: an inactive cashbox is a 409, a signer
    that is away (the strategy forbids selling) a 503."""
    status = 409 if decision.code == "fiscal_cashbox_not_operational" else 503
    return FiscalError(status, decision.code or "fiscal_refused", decision.reason + more)


def _after(first: Awaitable[Any], then: Awaitable[Any]) -> asyncio.Task[None]:
    """One task that is done when both journal commits are (queued in this order)."""

    async def both() -> None:
        await first
        await then

    return asyncio.get_running_loop().create_task(both())


def _issue_time(cashbox: _Cashbox, when: datetime) -> datetime:
    """The receipt's time: the till's, or the previous receipt's when the till's is up to
    CLOCK_SKEW behind it. Further back is refused by the cashbox (a stale retry should be
    sent again with the time it is sent)."""
    last = cashbox.box.last_when if cashbox.box is not None else None
    if last is not None and last - CLOCK_SKEW <= when < last:
        return last
    return when


async def _available(unit: SoftwareSignatureUnit | RemoteSignatureUnit) -> bool:
    """Whether the unit can sign now: an emulated software unit unless damaged; a remote
    one unless its last call failed and a fresh look at the service fails too."""
    if isinstance(unit, SoftwareSignatureUnit):
        return not unit.damaged
    if unit.state is not RemoteUnitState.UNAVAILABLE:
        return True
    try:
        await unit.check()
    except SignatureUnitUnavailable:
        return False
    return True


def signed_time(box: RksvCashbox) -> datetime:
    assert box.last_when is not None
    return box.last_when


def _answer(
    cashbox: _Cashbox, request: TransactionRequest | None, signed: SignedReceipt
) -> dict[str, Any]:
    markers: list[str] = []
    if signed.failed:
        markers.append(MARKER_UNIT_FAILED)
    if signed.kind is ReceiptKind.TRAINING:
        markers.append(MARKER_TRAINING)
    if signed.kind is ReceiptKind.STORNO:
        markers.append(MARKER_VOID)
    items = [{"caption": "RKSV", "format": "QR_CODE", "data": signed.qr_text}]
    items += [{"caption": marker, "format": "TEXT", "data": marker} for marker in markers]
    assert cashbox.box is not None
    return {
        "receipt_reference": request.receipt_reference if request else signed.receipt_id,
        "state": "OK",
        "number": cashbox.box.receipt_number,
        "series": cashbox.model.transaction_series,
        "signature": signed.jws,
        "signature_items": items,
        "markers": markers,
    }


def _receipt_payload(signed: SignedReceipt) -> dict[str, Any]:
    return {
        "jws": signed.jws,
        "receipt_id": signed.receipt_id,
        "kind": signed.kind.value,
        "unit_id": signed.unit_id,
        "failed": signed.failed,
    }


def _pending_payload(receipt: ReceiptInput) -> dict[str, Any]:
    return {
        "receipt_id": receipt.receipt_id,
        "when": receipt.when.isoformat(),
        "amounts": {tax_set.value: str(amount) for tax_set, amount in receipt.amounts.items()},
        "kind": receipt.kind.value,
    }


def _pending_receipt(data: Mapping[str, Any]) -> ReceiptInput:
    return ReceiptInput(
        receipt_id=data["receipt_id"],
        when=datetime.fromisoformat(data["when"]),
        amounts={TaxSet(name): Decimal(amount) for name, amount in data["amounts"].items()},
        kind=ReceiptKind(data["kind"]),
    )


def _tax_set(rate: str) -> TaxSet:
    tax_set = _TAX_SETS.get(rate)
    if tax_set is None:
        raise FiscalError(422, "invalid_tax_rate", f"no Austrian tax set for rate {rate!r}")
    return tax_set


def _signed_from_journal(cashbox: _Cashbox, receipt: Mapping[str, Any]) -> SignedReceipt:
    jws = receipt["jws"]
    unit = cashbox.units[receipt["unit_id"]]
    return SignedReceipt(
        jws=jws,
        code=parse_jws(jws).code.text,
        receipt_id=receipt["receipt_id"],
        kind=ReceiptKind(receipt["kind"]),
        unit_id=receipt["unit_id"],
        certificate_serial=unit.certificate_serial(),
        turnover_cents=0,
        failed=bool(receipt["failed"]),
    )


def _new_unit(model: RksvCashboxModel, unit_id: str, index: int) -> SoftwareSignatureUnit:
    config = model.provider_config
    if config.provider == "AT0":
        return SoftwareSignatureUnit.generate(
            key_id=f"{config.company_id}-K{index}", unit_id=unit_id
        )
    return SoftwareSignatureUnit.generate(with_certificate=True, unit_id=unit_id)


def _unit_secrets(unit: SoftwareSignatureUnit | RemoteSignatureUnit) -> dict[str, Any]:
    if isinstance(unit, RemoteSignatureUnit):
        return {"remote": unit.to_dict()}  # identity only; the token is in the cashbox
    certificate = unit.certificate_pem()
    return {
        "key": unit.private_key_pem(),
        "certificate": certificate,
        "key_id": None if certificate is not None else unit.certificate_serial(),
    }


def _load_unit(
    model: RksvCashboxModel | EpsonItCashbox, unit_id: str, pem: Mapping[str, Any] | str
) -> SoftwareSignatureUnit | RemoteSignatureUnit:
    assert isinstance(model, RksvCashboxModel)
    data: dict[str, Any] = {"key": pem} if isinstance(pem, str) else dict(pem)
    if "remote" in data:
        config = next(u for u in model.provider_config.units if u.id == unit_id)
        assert config.type == "remote"
        return RemoteSignatureUnit.from_dict(
            data["remote"], token=config.token.get_secret_value()
        )
    return SoftwareSignatureUnit.from_pem(
        data["key"],
        certificate_pem=data.get("certificate"),
        key_id=data.get("key_id"),
        unit_id=unit_id,
    )


def _model_with_secrets(model: RksvCashboxModel | EpsonItCashbox) -> dict[str, Any]:
    data = model.model_dump(mode="json")
    if isinstance(model, RksvCashboxModel):
        data["provider_config"]["aes_key"] = model.provider_config.aes_key.get_secret_value()
    return data


def _invalid(exc: ValidationError) -> FiscalError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return FiscalError(422, "invalid_request", f"{where}: {message}" if where else message)


def _b64(key: bytes) -> str:
    import base64

    return base64.b64encode(key).decode("ascii")

