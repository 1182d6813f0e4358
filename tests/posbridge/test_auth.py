"""The API token: environment override, file creation with safe modes, comparison."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from posbridge.auth import TOKEN_ENV, TokenError, load_or_create_token, token_matches


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_environment_token_wins_over_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token-0123456789\n")
    token = load_or_create_token(tmp_path, {TOKEN_ENV: "env-token-0123456789"})
    assert token == "env-token-0123456789"


@pytest.mark.parametrize("value", ["", "short", "has spaces in the token value"])
def test_unusable_environment_token_is_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(TokenError, match=TOKEN_ENV):
        load_or_create_token(tmp_path, {TOKEN_ENV: value})
    assert not (tmp_path / "token").exists()


def test_first_start_generates_a_private_token_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    old_umask = os.umask(0)  # even a permissive umask must not widen the file
    try:
        token = load_or_create_token(state, {})
    finally:
        os.umask(old_umask)
    path = state / "token"
    assert path.read_text().strip() == token
    assert len(token) >= 40
    assert _mode(path) == 0o600
    assert [p.name for p in state.iterdir()] == ["token"]  # no temp file left behind
    # The second start reads the same token back.
    assert load_or_create_token(state, {}) == token


def test_generated_tokens_differ(tmp_path: Path) -> None:
    assert load_or_create_token(tmp_path / "a", {}) != load_or_create_token(tmp_path / "b", {})


def test_readable_token_file_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token"
    path.write_text("existing-token-0123456789\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="posbridge.auth"):
        token = load_or_create_token(tmp_path, {})
    assert token == "existing-token-0123456789"
    assert _mode(path) == 0o600
    assert "readable by other users" in caplog.text


def test_too_short_token_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    with pytest.raises(TokenError, match="at least 16"):
        load_or_create_token(tmp_path, {})


def test_symlinked_token_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("linked-token-0123456789\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "token").symlink_to(target)
    with pytest.raises(OSError):
        load_or_create_token(tmp_path / "state", {})


def test_token_matches() -> None:
    assert token_matches("secret-token-value", "secret-token-value")
    assert not token_matches("secret-token-value", "secret-token-valuf")
    assert not token_matches("secret-token-value", "")
    assert not token_matches("secret-token-value", "secret-token-value-and-more")
