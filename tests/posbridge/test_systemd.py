"""sd_notify client against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from posbridge.systemd import NotifyMessage, SystemdNotifier, watchdog_loop


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket in tmp_path, like systemd's /run/systemd/notify."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def _drain(sock: socket.socket) -> list[str]:
    """Every datagram waiting on ``sock`` right now."""
    messages: list[str] = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2)
    return messages


def test_from_env_without_notify_socket_is_none() -> None:
    assert SystemdNotifier.from_env({}) is None
    assert SystemdNotifier.from_env({"NOTIFY_SOCKET": ""}) is None


def test_from_env_rejects_unsupported_address() -> None:
    assert SystemdNotifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"}) is None


def test_from_env_reads_os_environ(
    notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = SystemdNotifier.from_env()
    assert notifier is not None
    assert notifier.watchdog_interval() == 30.0
    assert notifier.ready()
    assert sock.recv(4096) == b"READY=1"
    notifier.close()


def test_ready_status_watchdog_stopping_reach_the_socket(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier is not None
    assert notifier.ready("serving on 127.0.0.1:8765")
    assert notifier.status("3 devices online")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert [sock.recv(4096).decode() for _ in range(4)] == [
        "READY=1\nSTATUS=serving on 127.0.0.1:8765",
        "STATUS=3 devices online",
        "WATCHDOG=1",
        "STOPPING=1",
    ]
    notifier.close()


def test_status_cannot_inject_assignments(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier(address=path)
    notifier.status("printer says\nREADY=1")
    assert sock.recv(4096) == b"STATUS=printer says READY=1"
    notifier.close()


def test_abstract_namespace_socket() -> None:
    name = f"posbridge-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert notifier is not None
        assert notifier.address == b"\0" + name.encode()
        assert notifier.ready()
        assert sock.recv(4096) == b"READY=1"
        notifier.close()
    finally:
        sock.close()


def test_send_failure_is_reported_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier(address=str(tmp_path / "nobody-listens"))
    assert notifier.ready() is False
    assert "sd_notify" in caplog.text
    notifier.close()


def test_full_queue_drops_instead_of_blocking(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier(address=path)
    # Nobody reads, so the receive queue fills up; a blocking send would hang here
    # (pytest-timeout would then fail the test).
    results = [notifier.watchdog() for _ in range(10_000)]
    assert results[0] is True
    assert results[-1] is False
    notifier.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "4242"}, 0.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "me"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_honours_pid(env: dict[str, str], expected: float | None) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": "/run/x", **env}, pid=4242)
    assert notifier is not None
    assert notifier.watchdog_interval() == expected


async def test_watchdog_loop_pings_at_half_the_interval(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    # WATCHDOG_USEC=0.2 s, so a ping is due every 0.1 s.
    notifier = SystemdNotifier.from_env(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}, pid=os.getpid()
    )
    assert notifier is not None
    task = asyncio.create_task(watchdog_loop(notifier, lambda: True))
    await asyncio.sleep(0.35)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    messages = _drain(sock)
    assert set(messages) == {NotifyMessage.WATCHDOG.value}
    # Pings at 0, 0.1, 0.2, 0.3 s; allow for a slow, shared machine.
    assert 3 <= len(messages) <= 5
    notifier.close()


async def test_watchdog_loop_sends_nothing_while_unhealthy(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier(address=path, watchdog_usec=100_000)
    task = asyncio.create_task(watchdog_loop(notifier, lambda: False))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    messages = _drain(sock)
    assert "WATCHDOG=1" not in messages
    assert messages == ["STATUS=unhealthy: withholding watchdog pings"]
    notifier.close()


async def test_watchdog_loop_follows_health_and_restores_status(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier(address=path, watchdog_usec=1_000_000)
    notifier.status("serving")
    assert sock.recv(4096) == b"STATUS=serving"
    answers = [True, False, False, True]
    exhausted = asyncio.Event()

    def is_healthy() -> bool:
        if not answers:
            exhausted.set()
            raise RuntimeError("database gone")
        return answers.pop(0)

    task = asyncio.create_task(watchdog_loop(notifier, is_healthy, interval=0.02))
    await asyncio.wait_for(exhausted.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _drain(sock) == [
        "WATCHDOG=1",
        "STATUS=unhealthy: withholding watchdog pings",
        "WATCHDOG=1",
        "STATUS=serving",
        "STATUS=unhealthy: withholding watchdog pings",
    ]
    notifier.close()


async def test_watchdog_loop_returns_without_watchdog(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier(address=path)
    await asyncio.wait_for(watchdog_loop(notifier, lambda: True), timeout=1)
    assert _drain(sock) == []
    notifier.close()
