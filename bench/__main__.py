"""``make bench``: posbridge against a plain python-escpos script, same emulator listener.

Prints one ``name: value unit`` line per figure. Targets: p50 ratio posbridge/direct
<= 1.5, >= 500 receipts/s accepted durably, idle RSS <= 90 MB, ready in <= 1.5 s.
Hang tags (``bench/hangtags.py``): 10,000 tags committed in <= 2 s, one tag's preview
in <= 100 ms, peak memory growth <= 100 MB. Scans (``bench/scans.py``): pty to WebSocket
p99 <= 5 ms, >= 1,000 scans/s sustained with no loss. Fiscal (``bench/fiscal.py``):
RKSV-signed sales p99 <= 20 ms, >= 300 signed receipts/s with 8 clients.
``BENCH_ONLY=hangtags|scans|fiscal`` runs one part.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import drivers.escpos._lib  # noqa: F401 - sets up python-escpos before Network is imported
from bench import fiscal, hangtags, scans
from bench.httpclient import HttpConnection
from bench.receipt import blocks, print_direct

TOKEN = "bench-token-0123456789abcdef"
LATENCY_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
CLIENTS = 16
PER_CLIENT = int(os.environ.get("BENCH_PER_CLIENT", "100"))
THROUGHPUT_ROUNDS = 3  # the median of three: this machine's speed wanders


def report(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.3f} {unit}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_emulator() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "posbridge.cli", "emulate", "escpos", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    match = re.search(r":(\d+)\s*$", proc.stdout.readline())
    assert match, "emulator did not report its port"
    _drain(proc)
    return proc, int(match.group(1))


def _drain(proc: subprocess.Popen[str]) -> None:
    """Keep reading a child's output so it never blocks on a full pipe."""
    import shutil
    import threading

    assert proc.stdout is not None
    stream = proc.stdout
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the child
    threading.Thread(target=shutil.copyfileobj, args=(stream, sink), daemon=True).start()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_daemon(state_dir: Path, emulator_port: int) -> tuple[subprocess.Popen[str], int, float]:
    return serve(
        state_dir / "bench.toml",
        state_dir / "state",
        "[[devices]]\n"
        'id = "receipt-1"\nkind = "receipt_printer"\n'
        f'url = "tcp://127.0.0.1:{emulator_port}"\nprofile = "TM-T88V"\n'
        "status_interval_s = 5.0\n",
    )


def serve(config: Path, state: Path, text: str) -> tuple[subprocess.Popen[str], int, float]:
    """``posbridge serve`` with configuration ``text``: the process, its port, and the
    seconds it took to say it is ready."""
    config.write_text(text)
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "posbridge.cli", "serve", "--config", str(config),
         "--port", str(port), "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, POSBRIDGE_TOKEN=TOKEN),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "posbridge ready on" in line:
            _drain(proc)
            return proc, port, time.perf_counter() - started
    raise RuntimeError("daemon did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def direct_print(port: int, *, wait_for_ack: bool) -> float:
    """A plain script: connect, print, close. With ``wait_for_ack`` it also asks the
    printer for its paper status and waits for the answer before closing, the least a
    program must do to know the printer received the receipt."""
    from escpos.printer import Network

    # python-escpos prints "Using hardware barcode renderer" on every barcode.
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        printer = Network("127.0.0.1", port, profile="TM-T88V")
        printer.open()
        print_direct(printer)
        if wait_for_ack:
            printer._raw(b"\x10\x04\x04")  # DLE EOT 4: paper roll sensor
            assert printer._read()
        printer.close()
        return time.perf_counter() - started


async def latencies(emulator_port: int, port: int) -> dict[str, list[float]]:
    """Samples of the three ways, interleaved so that machine noise hits all alike."""
    out: dict[str, list[float]] = {"direct": [], "direct_ack": [], "posbridge": []}
    body = blocks()
    async with HttpConnection("127.0.0.1", port, TOKEN) as http:
        for _ in range(LATENCY_SAMPLES):
            out["direct"].append(direct_print(emulator_port, wait_for_ack=False))
            out["direct_ack"].append(direct_print(emulator_port, wait_for_ack=True))
            started = time.perf_counter()
            status, job = await http.request(
                "POST", "/v1/printers/receipt-1/receipts?wait=30", body
            )
            out["posbridge"].append(time.perf_counter() - started)
            assert status == 202 and job["state"] == "done", job
    return out


async def throughput(port: int) -> tuple[float, float]:
    body = blocks()

    async def client() -> None:
        async with HttpConnection("127.0.0.1", port, TOKEN) as http:
            for _ in range(PER_CLIENT):
                status, job = await http.request("POST", "/v1/printers/receipt-1/receipts", body)
                assert status == 202, job

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    accepted = time.perf_counter() - started
    async with HttpConnection("127.0.0.1", port, TOKEN) as http:
        while True:
            _, page = await http.request(
                "GET", "/v1/jobs?state=queued&state=sending&state=held&limit=1"
            )
            if not page["jobs"]:
                break
            await asyncio.sleep(0.01)
    printed = time.perf_counter() - started
    total = CLIENTS * PER_CLIENT
    return total / accepted, total / printed


def main() -> int:
    only = os.environ.get("BENCH_ONLY")
    if only == "hangtags":
        hangtags.run(report)
        return 0
    if only == "scans":
        scans.run(report)
        return 0
    if only == "fiscal":
        fiscal.run(report)
        return 0
    emulator, emulator_port = start_emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ready_times = []
            for attempt in range(3):
                run_dir = Path(tmp) / f"ready-{attempt}"
                run_dir.mkdir()
                proc, port, ready = start_daemon(run_dir, emulator_port)
                ready_times.append(ready)
                if attempt < 2:
                    proc.terminate()
                    proc.wait()
            time.sleep(3.0)
            idle_rss = rss_mb(proc.pid)
            try:
                samples = asyncio.run(latencies(emulator_port, port))
                rounds = [asyncio.run(throughput(port)) for _ in range(THROUGHPUT_ROUNDS)]
            finally:
                proc.terminate()
                proc.wait()
    finally:
        emulator.terminate()
        emulator.wait()

    direct, ack, via = samples["direct"], samples["direct_ack"], samples["posbridge"]
    report("direct_p50", statistics.median(direct) * 1000, "ms")
    report("direct_p99", percentile(direct, 99) * 1000, "ms")
    report("direct_with_status_ack_p50", statistics.median(ack) * 1000, "ms")
    report("posbridge_p50", statistics.median(via) * 1000, "ms")
    report("posbridge_p99", percentile(via, 99) * 1000, "ms")
    ratio = statistics.median(via) / statistics.median(direct)
    report("p50_ratio_posbridge_over_direct", ratio, "x")
    report(
        "p50_ratio_posbridge_over_direct_with_ack",
        statistics.median(via) / statistics.median(ack),
        "x",
    )
    report("accepted_durably_16_clients", statistics.median(r[0] for r in rounds), "receipts/s")
    report("fully_printed_16_clients", statistics.median(r[1] for r in rounds), "receipts/s")
    report("idle_rss", idle_rss, "MB")
    report("ready_time", statistics.median(ready_times), "s")
    hangtags.run(report)
    scans.run(report)
    fiscal.run(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
