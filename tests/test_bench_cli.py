"""scripts/bench_cli.py prints every figure beside its target.  No time is asserted: only that
the figures are there and well formed, and that the import report names what was loaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import load_script

NUMBER = r"\d+"


def test_one_run_prints_every_figure_and_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_cli")
    assert bench.main(["--repeat", "2", "--imports"]) == 0
    out = capsys.readouterr().out
    for label in ("runner --help", "runner rules list", "runner --version", "python -c pass"):
        line = re.search(
            rf"^{re.escape(label)}.*: ({NUMBER}) ms \(median of 2; ({NUMBER})-({NUMBER}) ms\)$",
            out,
            re.MULTILINE,
        )
        assert line is not None, f"{label!r} missing in:\n{out}"
        assert int(line[2]) <= int(line[1]) <= int(line[3])
    assert out.count("heavy modules loaded: none") == len(bench.COMMANDS)
    assert "imports (cumulative ms, -X importtime): runner" in out
    targets = out[out.index("targets:") :]
    for label in ("runner --help", "runner rules list"):
        assert re.search(
            rf"^  {re.escape(label)} <= 150 ms: {NUMBER} ms \(range {NUMBER}-{NUMBER}\): "
            r"(met|NOT MET)$",
            targets,
            re.MULTILINE,
        ), targets


def test_the_import_report_finds_heavy_modules(tmp_path: Path) -> None:
    """The report is not blind: a command that opens the store shows DuckDB."""
    bench = load_script("bench_cli")
    costs, heavy = bench.import_profile(["setup", "--store", "s.duckdb"], tmp_path)
    assert (tmp_path / "s.duckdb").is_file()
    assert "duckdb" in heavy
    assert costs == sorted(costs, key=lambda c: -c.cumulative_ms)
