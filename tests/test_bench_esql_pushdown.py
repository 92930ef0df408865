"""scripts/bench_esql_pushdown.py on a small event set: every query is timed both ways, says
what ran in SQL, and the compiled and interpreted answers agree.  No timing is asserted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import load_script


def test_every_query_agrees_and_reports_what_ran_in_sql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script("bench_esql_pushdown")
    code = script.main(["--events", "1500", "--hosts", "20", "--repeat", "1", "--keep",
                        str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("interpreted ")]
    assert len(lines) == len(script.QUERIES)
    pattern = r"interpreted \d+\.\d+ s, compiled \d+\.\d+ s \(\d+\.\dx\), \d+ rows, in SQL: (.+?): "
    found = [re.match(pattern, line) for line in lines]
    assert all(found), lines
    in_sql = [m.group(1) for m in found if m]
    assert in_sql[0] == "LIMIT 10" and in_sql[-1] == "nothing"
    assert "WHERE+STATS" in in_sql and "ANSWERS DIFFER" not in out
