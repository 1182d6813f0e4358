"""The technician's CLI against a running daemon, and the daemon's systemd handshake."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.harness import TOKEN, Daemon, running

pytestmark = pytest.mark.slow


def _cli(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posbridge.cli", *args, "--url", daemon.base_url],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, POSBRIDGE_TOKEN=TOKEN),
    )


def test_cli_devices_status_and_print_test(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon:
        devices = _cli(daemon, "devices")
        assert devices.returncode == 0, devices.stderr
        assert "receipt-1" in devices.stdout and "receipt_printer" in devices.stdout
        status = _cli(daemon, "status", "receipt-1")
        assert status.returncode == 0 and '"paper": "ok"' in status.stdout
        test_page = _cli(daemon, "print-test", "receipt-1")
        assert test_page.returncode == 0, test_page.stdout + test_page.stderr
        assert ": done" in test_page.stdout
        with daemon.client() as client:
            assert "posbridge test page" in client.get(
                "/v1/emulators/receipt-1/output?format=text"
            ).text
        unknown = _cli(daemon, "status", "nope")
        assert unknown.returncode != 0 and "no device with id 'nope'" in unknown.stderr


def test_cli_says_when_the_daemon_is_not_running(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "state")  # never started
    result = _cli(daemon, "devices")
    assert result.returncode != 0 and "is it running?" in result.stderr


def test_check_config_names_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[[devices]]\nid = "r"\nkind = "receipt_printer"\nurl = "usb://nothex"\ncolour = 1\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "posbridge.cli", "check-config", str(config)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "devices[0].colour: unknown key" in result.stderr
    assert "devices[0].url" in result.stderr


def test_ready_and_watchdog_reach_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    os.environ["NOTIFY_SOCKET"] = str(path)
    os.environ["WATCHDOG_USEC"] = "400000"
    daemon = Daemon(tmp_path / "state")
    try:
        started = time.monotonic()
        daemon.start()
        messages: list[str] = []
        while "WATCHDOG=1" not in "\n".join(messages) and time.monotonic() - started < 15:
            messages.append(sock.recv(4096).decode())
        joined = "\n".join(messages)
        assert "READY=1" in joined
        assert "WATCHDOG=1" in joined
        # READY only once the socket is bound: the API answers right after.
        with daemon.client() as client:
            assert client.get("/v1/health").json()["status"] == "ok"
        assert daemon.stop() == 0  # a clean stop on SIGTERM
        sock.settimeout(5)
        tail = []
        try:
            while True:
                tail.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        assert any("STOPPING=1" in message for message in tail)
    finally:
        del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
        daemon.kill()
        sock.close()


def test_second_daemon_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")):
        second = Daemon(tmp_path / "state")
        result = subprocess.run(
            [sys.executable, "-m", "posbridge.cli", "serve", "--port", str(second.port),
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, POSBRIDGE_TOKEN=TOKEN),
        )
    assert result.returncode == 2
    assert "already running with state directory" in result.stderr
