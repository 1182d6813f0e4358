"""Shared test set-up: paths to the repository's shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture
def shared_fixtures() -> Path:
    """``../shared/fixtures`` beside the repository root."""
    return SHARED / "fixtures"
