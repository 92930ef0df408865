"""Elasticsearch's ES|QL csv-spec suite on the embedded engine (scripts/esql_conformance.py)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import load_script

REPO = Path(__file__).resolve().parents[1]

# The figure reached (README, "ES|QL rules"); the engine must not fall below it.
MIN_PASSED = 1186
MIN_RATIO = 0.979


def _reference_dir() -> Path:
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "reference"


def _script() -> ModuleType:
    return load_script("esql_conformance")


@pytest.mark.reference
def test_in_scope_cases_pass_at_least_as_often_as_recorded() -> None:
    qa_dir = _reference_dir() / "esql-qa"
    if not (qa_dir / "specs").is_dir():
        pytest.skip(f"ES|QL csv-spec data not found at {qa_dir}")
    report = _script().run_conformance(qa_dir)
    failures = [f"{o.case.file}:{o.case.line} {o.case.name}: {o.detail}" for o in report.failures]
    assert report.count("passed") >= MIN_PASSED, "\n".join(failures)
    assert report.ratio >= MIN_RATIO, "\n".join(failures)
    # Every case is counted once, and every out-of-scope case names its reason.
    assert report.in_scope + report.count("out_of_scope") == len(report.outcomes)
    assert all(o.detail for o in report.outcomes if o.status == "out_of_scope")


def test_reader_follows_the_csv_spec_format(tmp_path: Path) -> None:
    spec = tmp_path / "x.csv-spec"
    spec.write_text(
        "// a comment\n"
        "first#[skip:-8.12.99]\n"
        "required_capability: something\n"
        'row a = 1, b = ["x", "y"]\n'
        "| eval c = null;\n"
        "warning:ignored\n"
        "ignoreOrder:true\n"
        "\n"
        "a:integer | b:keyword | c:null\n"
        "1         | [x, y]   | null\n"
        ";\n"
        "\n"
        "second-Ignore\n"
        "from employees | keep emp_no;\n"
        "emp_no:i\n"
        ";\n"
    )
    conformance = _script()
    first, second = conformance.read_spec(spec)
    assert first.name == "first" and first.ignore_order and not first.disabled
    assert first.query == 'row a = 1, b = ["x", "y"]\r\n| eval c = null'
    assert first.columns == (("a", "integer"), ("b", "keyword"), ("c", "null"))
    assert first.rows == (("1", "[x, y]", None),)
    assert conformance.run_case(first, {}).status == "passed"
    assert second.disabled and second.rows == ()
    assert conformance.run_case(second, {}).detail == "disabled upstream (-Ignore)"


def test_a_case_outside_the_issue_scope_is_reported_with_its_reason(tmp_path: Path) -> None:
    spec = tmp_path / "y.csv-spec"
    spec.write_text("pow\nrow a = pow(2, 3);\n\na:double\n8.0\n;\n")
    conformance = _script()
    (case,) = conformance.read_spec(spec)
    outcome = conformance.run_case(case, {})
    assert (outcome.status, outcome.detail) == ("out_of_scope", "function POW")


def test_a_wrong_result_fails(tmp_path: Path) -> None:
    spec = tmp_path / "z.csv-spec"
    spec.write_text("wrong\nrow a = 1 + 1;\n\na:integer\n3\n;\n")
    conformance = _script()
    (case,) = conformance.read_spec(spec)
    outcome = conformance.run_case(case, {})
    assert outcome.status == "failed"
    assert "expected ('3',), got ('2',)" in outcome.detail
