"""Running the daemon: recover the store, bind the socket, then tell systemd we are ready."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Generator
from pathlib import Path

import uvicorn
import uvloop

from posbridge.api.app import create_app
from posbridge.config import Config
from posbridge.runtime import Runtime
from posbridge.systemd import SystemdNotifier, watchdog_loop

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM/SIGINT ends ``serve`` normally instead of being
    re-raised afterwards, so the daemon tells systemd it is stopping and closes the job
    store cleanly."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def _banner(runtime: Runtime, base: str, demo: bool) -> str:
    lines = [f"posbridge ready on {base}  (API docs: {base}/docs)"]
    if demo:
        device = next(iter(runtime.devices.devices), "receipt-1")
        auth = f'-H "Authorization: Bearer {runtime.token}"'
        lines += [
            "Built-in demo configuration: every device is an emulator.",
            f"  token: {runtime.token}",
            "  print a receipt:",
            f"    curl -s {auth} -H 'Content-Type: application/json' "
            f"-d @examples/sales-receipt.json '{base}/v1/printers/{device}/receipts?wait=10'",
            "  see what came out:",
            f"    curl -s {auth} '{base}/v1/emulators/{device}/output?format=text'",
        ]
        labels = next(
            (d for d, dev in runtime.devices.devices.items() if dev.kind.value == "label_printer"),
            None,
        )
        if labels is not None:
            lines += [
                "  print hang tags, then see the last one:",
                f"    curl -s {auth} -H 'Content-Type: application/json' "
                "-d @examples/hang-tags.json "
                f"'{base}/v1/label-printers/{labels}/hang-tags?wait=10'",
                f"    curl -s {auth} -o tag.png "
                f"'{base}/v1/emulators/{labels}/output?format=png&label=2'",
            ]
    return "\n".join(lines)


async def serve(config: Config, state_dir: Path, *, host: str, port: int, demo: bool) -> int:
    runtime = await Runtime.start(config, state_dir)
    try:
        server = _Server(
            uvicorn.Config(
                create_app(runtime),
                host=host,
                port=port,
                lifespan="off",
                access_log=False,
                http="httptools",
                # Nothing stands in front of the daemon: no X-Forwarded-* header is
                # believed (and no middleware looks for them on every request).
                proxy_headers=False,
                log_level="warning",
                timeout_graceful_shutdown=5,
            )
        )
        serving = asyncio.create_task(server.serve(), name="http")
        while not server.started:
            if serving.done():
                # uvicorn logged why (address in use, permission denied).
                return 1
            await asyncio.sleep(0.005)
        base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        # What start-up built lives as long as the daemon: keep it out of the garbage
        # collector's full passes, which a batch of thousands of tags otherwise triggers
        # again and again over every object of every imported library.
        gc.freeze()
        print(_banner(runtime, base, demo), flush=True)
        notifier = SystemdNotifier.from_env()
        watchdog: asyncio.Task[None] | None = None
        if notifier is not None:
            notifier.ready()
            watchdog = asyncio.create_task(watchdog_loop(notifier, runtime.healthy))
        try:
            await serving
        except SystemExit as exc:
            return int(exc.code or 1)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if notifier is not None:
                notifier.stopping()
        return 0
    finally:
        await runtime.aclose()


def run(config: Config, state_dir: Path, *, host: str, port: int, demo: bool) -> int:
    try:
        # uvloop roughly halves the per-request overhead of the event loop.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(serve(config, state_dir, host=host, port=port, demo=demo))
    except KeyboardInterrupt:
        return 0
    finally:
        sys.stdout.flush()
