"""Shared fixtures: repository paths and the optional ../shared/reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_RULES = REPO_ROOT / "rules"


def reference_dir() -> Path | None:
    """``../shared/reference`` beside the checkout, or ``RUNNER_REFERENCE_DIR``; None if absent."""
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "reference"
    return candidate if candidate.is_dir() else None


def seeds_dir() -> Path | None:
    candidate = REPO_ROOT.parent / "shared" / "seeds"
    return candidate if candidate.is_dir() else None


@pytest.fixture
def reference() -> Path:
    found = reference_dir()
    if found is None:
        pytest.skip("reference data (../shared/reference) is not present in this checkout")
    return found
