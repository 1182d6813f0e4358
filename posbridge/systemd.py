"""sd_notify client for running under systemd (``Type=notify`` with ``WatchdogSec=``).

No dependency on libsystemd: the protocol is one datagram of ``KEY=VALUE`` lines sent
to the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` means the Linux
abstract namespace). Sending never blocks the event loop (the socket is non-blocking;
a full queue drops the message) and never raises: losing a status line must not take
the daemon down, and a missed watchdog ping shows up in systemd's own logs.

Typical use in the daemon::

    notifier = SystemdNotifier.from_env()          # None when not started by systemd
    ...recover jobs, bind the HTTP socket...
    if notifier is not None:
        notifier.ready()
        task = asyncio.create_task(watchdog_loop(notifier, manager.is_healthy))
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "NotifyMessage",
    "SystemdNotifier",
    "watchdog_loop",
]

_log = logging.getLogger(__name__)


class NotifyMessage(StrEnum):
    """The fixed sd_notify assignments this daemon sends."""

    READY = "READY=1"
    STOPPING = "STOPPING=1"
    WATCHDOG = "WATCHDOG=1"


def _socket_address(raw: str) -> str | bytes | None:
    """Turn ``$NOTIFY_SOCKET`` into an address for ``socket.sendto``.

    ``@name`` is an abstract socket: its address starts with a NUL byte. Only
    filesystem paths (absolute) and abstract names are valid; anything else (e.g.
    ``vsock:`` addresses used for VMs) is not supported and yields None.
    """
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    if raw.startswith("/"):
        return raw
    return None


def _watchdog_seconds(env: Mapping[str, str], pid: int) -> float | None:
    """The watchdog interval systemd asked for, if it is meant for process ``pid``."""
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    # WATCHDOG_PID names the process that must ping; a child that inherited the
    # environment (e.g. a subprocess we spawn) must not think it is the watched one.
    pid_text = env.get("WATCHDOG_PID")
    if pid_text:
        try:
            if int(pid_text) != pid:
                return None
        except ValueError:
            return None
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000


@dataclass
class SystemdNotifier:
    """Sends sd_notify messages to one notification socket.

    Build it with :meth:`from_env`; the constructor is for tests and for callers that
    already know the socket address. ``watchdog_usec`` is the value of
    ``WATCHDOG_USEC`` meant for this process, or None when no watchdog is configured.
    """

    address: str | bytes
    watchdog_usec: int | None = None
    last_status: str | None = field(default=None, init=False)
    _sock: socket.socket | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        pid: int | None = None,
    ) -> SystemdNotifier | None:
        """The notifier systemd asked for, or None when not run as a notify service.

        ``environ`` defaults to ``os.environ`` and ``pid`` to this process. The
        variables are left in the environment: unlike libsystemd's ``unset_environment``
        this keeps ``posbridge`` subcommands and re-reads consistent, and
        ``WATCHDOG_PID`` already stops children from pinging on our behalf.
        """
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        if not raw:
            return None
        address = _socket_address(raw)
        if address is None:
            _log.warning("NOTIFY_SOCKET=%r is not a supported address; not notifying", raw)
            return None
        seconds = _watchdog_seconds(env, os.getpid() if pid is None else pid)
        usec = None if seconds is None else round(seconds * 1_000_000)
        return cls(address=address, watchdog_usec=usec)

    def watchdog_interval(self) -> float | None:
        """Seconds within which systemd expects a ``WATCHDOG=1``; None if no watchdog."""
        if self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 1_000_000

    def notify(self, *assignments: str) -> bool:
        """Send ``assignments`` (``"KEY=VALUE"`` strings) as one datagram.

        Returns whether the message was handed to the kernel. Never blocks and never
        raises: failures are logged.
        """
        payload = "\n".join(assignments).encode()
        try:
            sock = self._socket()
            sock.sendto(payload, self.address)
        except BlockingIOError:
            # systemd is not draining its queue right now; a later message will do.
            _log.warning("sd_notify queue full; dropped %r", assignments)
            return False
        except OSError as exc:
            _log.warning("sd_notify to %r failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up is complete (``READY=1``), optionally with a status."""
        if status is None:
            return self.notify(NotifyMessage.READY)
        self.last_status = status
        return self.notify(NotifyMessage.READY, _status_line(status))

    def status(self, text: str) -> bool:
        """Set the one-line status shown by ``systemctl status``."""
        self.last_status = text
        return self.notify(_status_line(text))

    def watchdog(self) -> bool:
        """Ping the service watchdog (``WATCHDOG=1``)."""
        return self.notify(NotifyMessage.WATCHDOG)

    def stopping(self, status: str | None = None) -> bool:
        """Tell systemd a clean shutdown has begun (``STOPPING=1``)."""
        if status is None:
            return self.notify(NotifyMessage.STOPPING)
        self.last_status = status
        return self.notify(NotifyMessage.STOPPING, _status_line(status))

    def close(self) -> None:
        """Close the socket; a later message opens a new one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            self._sock = sock
        return self._sock


def _status_line(text: str) -> str:
    # A newline would start a new assignment and let status text forge READY=1 etc.
    return "STATUS=" + " ".join(text.splitlines())


async def watchdog_loop(
    notifier: SystemdNotifier,
    is_healthy: Callable[[], bool],
    *,
    interval: float | None = None,
) -> None:
    """Ping the watchdog every half interval for as long as ``is_healthy()`` is true.

    An unhealthy check skips the ping, so a daemon that stays unhealthy for the whole
    ``WatchdogSec=`` is restarted by systemd, while a brief hiccup is ridden out. A
    health check that raises counts as unhealthy; it runs on the loop, so it must be
    cheap and must not block. While unhealthy, ``systemctl status`` says so; on
    recovery the status last set through the notifier comes back. ``interval`` overrides the period
    (seconds between checks); by default it is half of ``WATCHDOG_USEC``. Returns at
    once when there is no watchdog; otherwise runs until cancelled.
    """
    if interval is None:
        full = notifier.watchdog_interval()
        if full is None:
            return
        interval = full / 2
    was_healthy = True
    while True:
        try:
            healthy = bool(is_healthy())
        except Exception:  # noqa: BLE001 - any failure of the check means "unhealthy"
            _log.exception("health check failed")
            healthy = False
        if healthy:
            notifier.watchdog()
            if not was_healthy:
                _log.info("health check passing again; watchdog pings resumed")
                if notifier.last_status is not None:
                    notifier.notify(_status_line(notifier.last_status))
        elif was_healthy:
            _log.warning("health check failing; withholding watchdog pings")
            # Sent without recording it, so recovery restores the daemon's own status.
            notifier.notify(_status_line("unhealthy: withholding watchdog pings"))
        was_healthy = healthy
        await asyncio.sleep(interval)
