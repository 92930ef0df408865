"""Elasticsearch's EQL conformance specs on the embedded engine (scripts/eql_conformance.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _reference_dir() -> Path:
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "reference"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "eql_conformance", REPO / "scripts" / "eql_conformance.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
