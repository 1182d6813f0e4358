"""The daemon's API token: where it comes from and how it is compared.

The token is ``POSBRIDGE_TOKEN`` when that variable is set; otherwise it lives in
``STATE_DIR/token``, generated on first start.  The file is created with mode 0600
from the first byte on (``os.open`` with ``O_EXCL``), so it is never readable by
other users, not even for the instant between creating and ``chmod``-ing it.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "MIN_TOKEN_LENGTH",
    "TOKEN_ENV",
    "TOKEN_FILE_NAME",
    "TokenError",
    "load_or_create_token",
    "token_matches",
]

TOKEN_ENV = "POSBRIDGE_TOKEN"  # noqa: S105 - a variable name, not a secret
"""Environment variable that, when set, overrides the token file."""

TOKEN_FILE_NAME = "token"  # noqa: S105 - a file name, not a secret
"""Name of the token file inside the state directory."""

MIN_TOKEN_LENGTH = 16
"""Shortest token accepted from the environment or the token file."""

_FILE_MODE = 0o600
_DIR_MODE = 0o700

log = logging.getLogger(__name__)


class TokenError(ValueError):
    """The configured token (environment or file) cannot be used."""


def _check_token(token: str, source: str) -> str:
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(
            f"{source} must be at least {MIN_TOKEN_LENGTH} characters long "
            f"(got {len(token)}); unset it to use a generated token"
        )
    # The token travels in an HTTP header and a WebSocket subprotocol: only visible
    # ASCII survives both unchanged.
    if not all("\x21" <= ch <= "\x7e" for ch in token):
        raise TokenError(f"{source} may contain only visible ASCII characters, no spaces")
    return token


def load_or_create_token(state_dir: Path, env: Mapping[str, str] = os.environ) -> str:
    """Return the API token, creating ``state_dir/token`` on first use.

    Order: ``POSBRIDGE_TOKEN`` (must be at least 16 visible ASCII characters), then
    the token file, then a fresh ``secrets.token_urlsafe(32)`` written to the file
    with mode 0600.  An existing file that other users can read is tightened to 0600
    with a warning.  Raises :class:`TokenError` for an unusable token.
    """
    if TOKEN_ENV in env:
        return _check_token(env[TOKEN_ENV], TOKEN_ENV)
    path = state_dir / TOKEN_FILE_NAME
    try:
        return _read_token_file(path)
    except FileNotFoundError:
        pass
    return _create_token_file(path)


def _read_token_file(path: Path) -> str:
    # O_NOFOLLOW: the file we tighten and trust must be the file itself, not a link
    # someone planted that points elsewhere.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TokenError(f"{path} is not a regular file")
        if info.st_mode & 0o077:
            log.warning(
                "token file %s was readable by other users (mode %o); tightening it to 0600",
                path,
                stat.S_IMODE(info.st_mode),
            )
            os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "r", encoding="ascii", closefd=False) as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise TokenError(f"{path} does not hold an ASCII token") from exc
    finally:
        os.close(fd)
    return _check_token(text.strip(), str(path))


def _create_token_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    token = secrets.token_urlsafe(32)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
    try:
        try:
            os.write(fd, (token + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # A hard link publishes the complete file atomically and, unlike rename,
            # refuses to replace a token another process created a moment ago.
            os.link(temp, path)
        except FileExistsError:
            return _read_token_file(path)
        except OSError:
            # Filesystems without hard links: rename is still atomic.
            temp.replace(path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    log.info("generated a new API token in %s", path)
    return token


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def token_matches(expected: str, given: str) -> bool:
    """Compare tokens in constant time (no timing hints about a partial match)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
