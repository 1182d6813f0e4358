"""Personal data from scans: an ID document reaches the authenticated client, and
nothing of it is logged (even at debug level) or written under the state directory."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import TOKEN, Daemon, running, wait_until

LICENCE = "D98765432"
FAMILY = "XQZWALDHEIM"
GIVEN = "VIKTORIAQZ"


def aamva(elements: dict[str, str], issuer: str = "636014", version: int = 10) -> str:
    """A one-subfile AAMVA DL document laid out as the standard says: header, a
    directory entry with the subfile's offset and length, then the subfile."""
    body = "DL" + "".join(f"{key}{value}\n" for key, value in elements.items()) + "\r"
    header_length = 21 + 10  # the header, then one directory entry
    return (
        f"@\n\x1e\rANSI {issuer}{version:02d}0001"
        f"DL{header_length:04d}{len(body):04d}" + body
    )


DOCUMENT = aamva(
    {
        "DAQ": LICENCE,
        "DCS": FAMILY,
        "DAC": GIVEN,
        "DAD": "NONE",
        "DBB": "07041984",
        "DBA": "07042030",
        "DBC": "2",
        "DAG": "1 MAIN ST",
        "DAI": "SACRAMENTO",
        "DAJ": "CA",
        "DAK": "958140000",
        "DCG": "USA",
    }
)


def _collect(daemon: Daemon, into: list[dict[str, Any]], ready: threading.Event) -> None:
    with httpx.Client(base_url=daemon.base_url, timeout=30) as client, client.stream(
        "GET", "/v1/events?type=scan", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        ready.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                into.append(json.loads(line[5:]))
                return


def test_an_id_document_reaches_the_client_and_nothing_else(tmp_path: Path) -> None:
    config = (
        "[[devices]]\n"
        'id = "scanner-1"\nkind = "scanner"\nurl = "emu://scanner/scanner-1"\n'
    )
    state = tmp_path / "state"
    with running(Daemon(state, config, verbose=True)) as daemon, daemon.client() as client:
        wait_until(lambda: client.get("/v1/devices/scanner-1").json()["state"] == "ready")
        events: list[dict[str, Any]] = []
        ready = threading.Event()
        reader = threading.Thread(target=_collect, args=(daemon, events, ready), daemon=True)
        reader.start()
        assert ready.wait(10)
        response = client.post(
            "/v1/emulators/scanner-1/scan", json={"data": DOCUMENT, "symbology": "pdf417"}
        )
        assert response.status_code == 200, response.text
        reader.join(10)
        classified = client.post(
            "/v1/scans/classify", json={"data": DOCUMENT, "symbology": "pdf417"}
        ).json()["classification"]
        # Without the token, no event stream at all.
        assert httpx.get(f"{daemon.base_url}/v1/events").status_code == 401
    (event,) = events
    result = event["data"]["classification"]
    assert result["kind"] == "id_document" == classified["kind"]
    text = json.dumps(result)
    assert LICENCE in text and FAMILY in text and GIVEN in text
    logs = "".join(daemon.output)
    assert "scan on scanner-1" in logs  # debug logging was on, and redacted
    for secret in (LICENCE, FAMILY, GIVEN, "SACRAMENTO"):
        assert secret not in logs
        for path in state.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
