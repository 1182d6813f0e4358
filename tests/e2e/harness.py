"""Drive the real daemon process over HTTP, and emulators on real sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, Self, TypeVar

import httpx

from drivers.emulation import Emulator
from drivers.escpos.emulator import EscposEmulator
from drivers.zpl.emulator import ZplEmulator

T = TypeVar("T")
E = TypeVar("E", bound=Emulator)

TOKEN = "test-token-0123456789abcdef"
READY_LINE = "posbridge ready on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Daemon:
    """``posbridge serve`` as a child process with its own state dir and port."""

    def __init__(
        self,
        state_dir: Path,
        config: str | None = None,
        prefix: list[str] | None = None,
        *,
        verbose: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.prefix = prefix or []
        self.verbose = verbose
        self.port = free_port()
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = state_dir.parent / f"{state_dir.name}.toml"
            self.config_path.write_text(config)
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> float:
        """Start and wait for the ready line; returns the seconds it took."""
        cmd = [*self.prefix, sys.executable, "-m", "posbridge.cli",
               *(["--verbose"] if self.verbose else []), "serve",
               "--port", str(self.port),
               "--state-dir", str(self.state_dir)]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        env = dict(os.environ, POSBRIDGE_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        assert self.proc.stdout is not None
        while time.monotonic() - started < timeout:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if READY_LINE in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return time.monotonic() - started
        self.kill()
        raise RuntimeError("daemon did not become ready:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {TOKEN}", **headers},
            timeout=30,
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


class ThreadedServer(Generic[E]):
    """An emulator served over TCP from its own event loop thread, so it outlives any
    number of daemon processes and the test can read what it printed."""

    def __init__(self, emulator: E) -> None:
        self.loop = asyncio.new_event_loop()
        self.emulator: E = emulator
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self.port = 0

    def __enter__(self) -> Self:
        from drivers.emulation_servers import serve_tcp

        async def start() -> asyncio.Server:
            return await serve_tcp(self.emulator, "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop (the emulator is not thread-safe)."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(10)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"


class ThreadedEmulator(ThreadedServer[EscposEmulator]):
    """The ESC/POS emulator, threaded."""

    def __init__(self, profile: str = "TM-T88V") -> None:
        super().__init__(EscposEmulator({"profile": profile}))


class ThreadedZplEmulator(ThreadedServer[ZplEmulator]):
    """The ZPL label printer emulator, threaded."""

    def __init__(self, dpi: int = 203) -> None:
        super().__init__(ZplEmulator({"dpi": str(dpi)}))


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("condition not reached in time")
