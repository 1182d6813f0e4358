"""A receipt that carries a fiscal transaction: signed first, then printed with its
RKSV QR code, in one request to the running daemon."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import zxingcpp
from PIL import Image

from drivers.fiscal.rksv import verify_dep7
from tests.e2e.harness import Daemon, running

CASHBOX = {
    "id": "kasse-1",
    "fiscal_provider_id": "rksv-at",
    "provider_config": {
        "cashbox_id": "KASSE-1",
        "provider": "AT0",
        "aes_key": base64.b64encode(os.urandom(32)).decode(),
        "company_id": "U:ATU12345678",
        "signature_unit": {"type": "software"},
    },
}
SALE = {
    "receipt_reference": "R-2",
    "type": "sale",
    "moment": "2026-11-27T10:15:00+01:00",
    "amounts": {"20": "49.00", "10": "3.50"},
    "payments": [{"method": "card", "amount": "52.50"}],
}
BLOCKS = [
    {"type": "text", "text": "Café Größenwahn", "align": "center", "bold": True},
    {"type": "columns", "left": "Hemd", "right": "€ 49,00"},
    {"type": "columns", "left": "Kaffee", "right": "€ 3,50"},
    {"type": "cut"},
]


def test_a_signed_receipt_prints_its_rksv_qr_code(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        assert client.patch(
            "/v1/fiscal/stores/wien-1", json={"country": "AT", "timezone": "Europe/Vienna"}
        ).status_code == 200
        assert client.post("/v1/fiscal/stores/wien-1/cashboxes", json=CASHBOX).status_code == 201
        activated = client.post(
            "/v1/fiscal/cashboxes/kasse-1/activate",
            json={"receipt_reference": "R-1", "moment": "2026-11-27T08:00:00+01:00"},
        )
        assert activated.status_code == 200, activated.text

        refused = client.post(
            "/v1/printers/receipt-1/receipts?wait=10",
            json={"blocks": BLOCKS, "fiscal": {"cashbox_id": "nope", "transaction": SALE}},
        )
        assert refused.status_code == 404 and refused.json()["code"] == "fiscal_cashbox_not_found"
        assert client.get("/v1/emulators/receipt-1/output?format=text").text == ""

        job = client.post(
            "/v1/printers/receipt-1/receipts?wait=10",
            json={"blocks": BLOCKS, "fiscal": {"cashbox_id": "kasse-1", "transaction": SALE}},
        )
        assert job.status_code == 202 and job.json()["state"] == "done", job.text
        png = client.get("/v1/emulators/receipt-1/output?format=png").content
        dep = client.get("/v1/fiscal/cashboxes/kasse-1/exports/dep7").json()
        container = client.get("/v1/fiscal/cashboxes/kasse-1/exports/crypto-container").json()
    codes = [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    (qr,) = [code for code in codes if code.startswith("_R1-AT0_KASSE-1_R-2_")]
    assert qr.split("_")[5:7] == ["49,00", "3,50"]  # normal and reduced-1 amounts
    assert verify_dep7(dep, container, cashbox_id="KASSE-1").ok
    assert sum(len(group["Belege-kompakt"]) for group in dep["Belege-Gruppe"]) == 2
