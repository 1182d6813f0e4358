"""``posbridge emulate``: one emulator on its own, over TCP or a pseudo-terminal.

For technicians (point a POS app or posbridge itself at it) and for CI. What the emulator
prints is written to stdout as text when the emulator stops (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from drivers.emulation import Emulator, emulator_factory
from drivers.emulation_servers import PtyServer, serve_tcp

__all__ = ["parse_listen", "run_emulator"]


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"posbridge: --listen wants HOST:PORT (e.g. :9100), not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def _run(kind: str, listen: str | None, pty: bool, options: dict[str, str]) -> int:
    emulator = emulator_factory(kind)(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if listen is not None:
        host, port = parse_listen(listen)
        server = await serve_tcp(emulator, host, port)
        bound = server.sockets[0].getsockname()
        print(f"{kind} emulator listening on tcp://{bound[0]}:{bound[1]}", flush=True)
        typing = _scan_typed_lines(emulator, stop) if kind == "scanner" else None
        try:
            await stop.wait()
        finally:
            if typing is not None:
                typing.cancel()
            server.close()
            await server.wait_closed()
    else:
        pty_server = PtyServer(emulator)
        await pty_server.start()
        print(f"{kind} emulator on serial://{pty_server.path}", flush=True)
        typing = _scan_typed_lines(emulator, stop) if kind == "scanner" else None
        try:
            await stop.wait()
        finally:
            if typing is not None:
                typing.cancel()
            await pty_server.aclose()
    text = emulator.output_text()
    if text:
        # Whoever started us may be gone already (a test, a pipe): nothing to report then.
        with contextlib.suppress(BrokenPipeError):
            print("---- printed ----")
            print(text, flush=True)
    return 0


def _scan_typed_lines(emulator: Emulator, stop: asyncio.Event) -> asyncio.Task[None]:
    """A scanner emulator scans every line typed on stdin (``code128:ABC`` names the
    symbology; without a name it is inferred), so a technician can drive it by hand."""
    from drivers.scanner.emulator import ScannerEmulator
    from drivers.scanner.symbology import Symbology, infer_symbology

    assert isinstance(emulator, ScannerEmulator)

    async def loop() -> None:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return  # stdin closed: keep serving until stopped
            text = line.rstrip("\r\n")
            name, sep, rest = text.partition(":")
            if sep and name.lower() in Symbology.__members__.values():
                emulator.scan(rest, Symbology(name.lower()))
            elif text:
                emulator.scan(text, infer_symbology(text))

    return asyncio.create_task(loop())


def run_emulator(kind: str, *, listen: str | None, pty: bool, options: dict[str, str]) -> int:
    import uvloop

    # The daemon's loop: an emulated printer answers about as fast as a real one instead
    # of adding the default loop's overhead to every status round trip.
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        return runner.run(_run(kind, listen, pty, options))
    return 0
