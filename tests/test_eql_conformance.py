"""Elasticsearch's EQL conformance specs on the embedded engine (scripts/eql_conformance.py)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import load_script

REPO = Path(__file__).resolve().parents[1]


def _reference_dir() -> Path:
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "reference"


def _script() -> ModuleType:
    return load_script("eql_conformance")


@pytest.mark.reference
def test_every_conformance_case_passes_or_is_skipped_with_a_reason(tmp_path: Path) -> None:
    qa_dir = _reference_dir() / "es-eql-qa"
    if not qa_dir.is_dir():
        pytest.skip(f"EQL conformance data not found at {qa_dir}")
    conformance = _script()
    report = conformance.run_conformance(qa_dir, store_dir=tmp_path)
    failures = [f"{o.case.name}: {o.detail}" for o in report.failures]
    assert failures == []
    skipped = [o for o in report.outcomes if o.status == "skipped"]
    assert all(o.detail for o in skipped)
    assert len(skipped) == len(conformance.SKIPPED)
    assert report.count("passed") == len(report.outcomes) - len(skipped)
