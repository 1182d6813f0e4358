"""Hang-tag figures: 10,000 tags (two pricebooks, EAN-13) from request to committed job,
then to fully printed by the emulator; one tag's preview; the daemon's peak memory.

Baseline in the same run: the same 10,000 tag formats, rendered in this process by
posbridge's own template code and written by a plain script straight to the same
emulator listener, waiting for ``~HS`` to report every label printed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.httpclient import HttpConnection

TAGS = int(os.environ.get("BENCH_TAGS", "10000"))
PREVIEWS = 20
TOKEN = "bench-token-0123456789abcdef"


def _ean13(n: int) -> str:
    body = f"400638{n:06d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _write_catalog(directory: Path) -> tuple[Path, Path, Path]:
    products = directory / "products.csv"
    products.write_text(
        "id,gtin,name,size,colour,brand\n"
        + "".join(f"SKU-{n:05d},{_ean13(n)},Shirt {n:05d},M,Navy,Bench\n" for n in range(TAGS))
    )
    regular, outlet = directory / "regular.csv", directory / "outlet.csv"
    regular.write_text(
        "product_id,amount\n" + "".join(f"SKU-{n:05d},{40 + n % 50}.99\n" for n in range(TAGS))
    )
    outlet.write_text(
        "product_id,amount\n" + "".join(f"SKU-{n:05d},{30 + n % 50}.99\n" for n in range(TAGS))
    )
    return products, regular, outlet


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "posbridge.cli", *args], check=True,
                   stdout=subprocess.DEVNULL)


def _peak_and_rss_mb(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmHWM"], values["VmRSS"]


def _start_emulator() -> tuple[subprocess.Popen[str], int]:
    from bench.__main__ import _drain

    proc = subprocess.Popen(
        [sys.executable, "-m", "posbridge.cli", "emulate", "zpl", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().rstrip().rsplit(":", 1)[1])
    _drain(proc)
    return proc, port


def _start_daemon(state: Path, emulator_port: int) -> tuple[subprocess.Popen[str], int]:
    from bench.__main__ import serve

    proc, port, _ = serve(
        state.parent / "hangtags.toml",
        state,
        '[hang_tags]\npricebooks = ["shop.regular", "outlet"]\ndefault_catalog = "shop"\n'
        'template = "tag-2x3"\nlocale = "de_AT"\n'
        '[[devices]]\nid = "label-1"\nkind = "label_printer"\n'
        f'url = "tcp://127.0.0.1:{emulator_port}"\nstatus_interval_s = 5.0\n',
    )
    return proc, port


async def _daemon_figures(port: int, pid: int) -> dict[str, float]:
    body = {"items": [{"product_id": f"SKU-{n:05d}"} for n in range(TAGS)]}
    out: dict[str, float] = {}
    async with HttpConnection("127.0.0.1", port, TOKEN) as http:
        one = {"items": [{"product_id": "SKU-00042"}]}
        await http.request("POST", "/v1/hang-tags/preview", one, raw=True)  # warm up
        times = []
        for _ in range(PREVIEWS):
            started = time.perf_counter()
            status, _ = await http.request("POST", "/v1/hang-tags/preview", one, raw=True)
            times.append(time.perf_counter() - started)
            assert status == 200
        out["preview"] = statistics.median(times)
        _, rss_before = _peak_and_rss_mb(pid)
        started = time.perf_counter()
        status, job = await http.request("POST", "/v1/label-printers/label-1/hang-tags", body)
        out["committed"] = time.perf_counter() - started
        assert status == 202, job
        while True:
            _, job = await http.request("GET", f"/v1/jobs/{job['id']}?wait=30")
            if job["state"] not in ("queued", "sending", "held"):
                break
        out["printed"] = time.perf_counter() - started
        assert job["state"] == "done" and job["labels_done"] == TAGS, job
        peak, _ = _peak_and_rss_mb(pid)
        out["memory_growth"] = peak - rss_before
    return out


def _direct_send(emulator_port: int, state: Path) -> float:
    """The baseline: render the same tags here, write them to the socket, wait for ~HS."""
    from drivers.zpl.media import Media
    from posbridge.hangtags.catalog import Catalog
    from posbridge.hangtags.pricing import MissingPrice, PricingRules, TagItem, resolve_tags
    from posbridge.hangtags.templates import HangTagTemplates

    catalog = Catalog(state / "catalog.sqlite3")
    rules = PricingRules(("shop.regular", "outlet"), "shop", MissingPrice.OMIT)
    started = time.perf_counter()
    tags = resolve_tags(catalog, [TagItem(f"SKU-{n:05d}") for n in range(TAGS)], rules, "de_AT")
    templates = HangTagTemplates(None)
    payload = b"".join(templates.render("tag-2x3", t.context, Media(), t.copies) for t in tags)
    with socket.create_connection(("127.0.0.1", emulator_port)) as sock:
        sock.sendall(payload)
        while True:
            sock.sendall(b"~HS")
            reply = b""
            while reply.count(b"\x03") < 3:
                reply += sock.recv(4096)
            line1 = reply.split(b"\x03")[0].split(b",")
            if int(line1[4]) == 0:  # formats in buffer
                break
            time.sleep(0.002)
    catalog.close()
    return time.perf_counter() - started


def run(report: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        state = directory / "state"
        products, regular, outlet = _write_catalog(directory)
        started = time.perf_counter()
        _cli("import", "products", str(products), "--state-dir", str(state))
        _cli("import", "prices", "shop.regular", str(regular), "--currency", "EUR",
             "--state-dir", str(state))
        _cli("import", "prices", "shop.outlet", str(outlet), "--currency", "EUR",
             "--state-dir", str(state))
        imported = time.perf_counter() - started
        emulator, emulator_port = _start_emulator()
        try:
            direct = _direct_send(emulator_port, state)
            daemon, port = _start_daemon(state, emulator_port)
            try:
                figures = asyncio.run(_daemon_figures(port, daemon.pid))
            finally:
                daemon.terminate()
                daemon.wait()
        finally:
            emulator.terminate()
            emulator.wait()
    report(f"hangtags_catalog_import_{TAGS}_products_2_pricebooks", imported, "s")
    report(f"hangtags_committed_{TAGS}", figures["committed"], "s")
    report("hangtags_committed_rate", TAGS / figures["committed"], "tags/s")
    report(f"hangtags_printed_{TAGS}", figures["printed"], "s")
    report("hangtags_printed_rate", TAGS / figures["printed"], "tags/s")
    report(f"direct_script_printed_{TAGS}", direct, "s")
    report("hangtags_printed_ratio_over_direct", figures["printed"] / direct, "x")
    report("hangtag_preview_one_p50", figures["preview"] * 1000, "ms")
    report("hangtags_peak_memory_growth", figures["memory_growth"], "MB")
