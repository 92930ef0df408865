"""scripts/bench_engine.py on a tiny event set: every figure is printed and the seed queries
find what the generator's manifest expects.  No timing is asserted: only that times are there.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

from runner.demo import RULE_EXIM4, RULES, Manifest, read_manifest
from tests.helpers import load_script

REPO = Path(__file__).resolve().parents[1]
EVENTS = 3000
NUMBER = r"\d+(?:\.\d+)?"


def _script() -> ModuleType:
    return load_script("bench_engine")


def _line(out: str, pattern: str) -> re.Match[str]:
    found = re.search(pattern, out, re.MULTILINE)
    assert found is not None, f"no line matching {pattern!r} in:\n{out}"
    return found


def _expected_in_window(manifest: Manifest, rule: str) -> int:
    """The rule query's matches in now-9m..now: its alerts; for the new-terms rule also the
    window's children whose executable the history already holds."""
    count = len(manifest.alerts_for(rule))
    if rule == RULE_EXIM4:
        count += len([n for n in manifest.near_misses if n.case == "seen_in_history"])
    return count


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _script()


def test_import_does_no_work(capsys: pytest.CaptureFixture[str]) -> None:
    _script()
    assert capsys.readouterr() == ("", "")


def test_tiny_run_prints_every_figure(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench.main(["--events", str(EVENTS), "--repeat", "2", "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    for name in ("events.ndjson", "manifest.json", "store.duckdb"):
        assert (tmp_path / name).is_file()
    with (tmp_path / "manifest.json").open(encoding="utf-8") as fh:
        manifest = read_manifest(fh)
    assert manifest.documents == EVENTS

    gen = _line(out, rf"^generate: (\d+) events in ({NUMBER}) s = {NUMBER}k? events/s")
    assert int(gen[1]) == EVENTS
    load = _line(
        out,
        rf"^load: (\d+) events in ({NUMBER}) s = {NUMBER}k? events/s "
        r"\(duplicates (\d+), skipped (\d+)\)",
    )
    assert (int(load[1]), int(load[3]), int(load[4])) == (EVENTS, 0, 0)
    assert float(load[2]) > 0

    in_window: dict[str, int] = {}
    for rule in RULES:
        found = _line(
            out,
            rf"^query {rule} \((eql|kql), rule window: now-9m\.\.now, size (\d+)\): "
            rf"({NUMBER}) s \(median of 2: {NUMBER}/{NUMBER}\), (\d+) hits?, "
            r"manifest expects (\d+)(?: \(max_signals cap; \d+ matches\))?: ok$",
        )
        expected = min(_expected_in_window(manifest, rule), int(found[2]))
        assert expected >= 1
        assert int(found[4]) == int(found[5]) == expected
        in_window[rule] = int(found[4])
        everything = _line(
            out,
            rf"^query {rule} \((eql|kql), all events: every event, size \d+\): "
            rf"({NUMBER}) s \(median of 2: {NUMBER}/{NUMBER}\), (\d+) hits?$",
        )
        assert int(everything[3]) >= in_window[rule]
    assert "MISMATCH" not in out
    for scope in ("rule window", "all events"):
        _line(out, rf"^queries \({scope}\): {NUMBER} s for the 4 seed queries together$")

    rss = _line(out, rf"^peak RSS: (\d+) KiB = ({NUMBER}) GB \(generation, load and queries\)$")
    assert int(rss[1]) > 10_000  # a Python process with DuckDB loaded: tens of MB at least

    if "eql package not installed" in out:
        assert "eql package not installed: pip install '.[bench]'" in out
        assert "eql engine total" not in out
    else:
        _line(out, r"^eql engine: eql \S+ PythonEngine, 3000 events, the 3 EQL seed queries")
        for rule in RULES:
            if rule == RULE_EXIM4:
                assert f"eql {rule}:" not in out
                continue
            _line(
                out,
                rf"^eql {rule}: {NUMBER} s, (\d+) hits? \(ours {NUMBER} s, \d+ hits?: agree\)",
            )
        _line(out, rf"^eql engine total: {NUMBER} s vs ours {NUMBER} s: ours is {NUMBER}x")
        for rule in RULES:
            if rule != RULE_EXIM4:
                _line(out, rf"^eql {rule} vs a whole `runner hunt` process: {NUMBER} s vs ")
        _line(out, r"^eql engine total vs `runner hunt` processes: .* ours is \S+ as fast$")

    # Each EQL seed query as a whole `runner hunt` process finds what the in-process query
    # found over every event.
    for rule in RULES:
        if rule == RULE_EXIM4:
            assert f"hunt {rule}" not in out
            continue
        found = _line(
            out,
            rf"^hunt {rule} \(whole `runner hunt` process, every event, size \d+\): "
            rf"{NUMBER} s \(median of 2: {NUMBER}/{NUMBER}\), (\d+) results "
            rf"\(in-process query {NUMBER} s, (\d+): agree\)$",
        )
        assert int(found[1]) == int(found[2]) >= 1

    targets = out[out.index("targets (stated for 1000000 events)") :].splitlines()
    assert "(measured at 3000 events)" in targets[0]
    body = targets[1:]
    assert len(body) == 6
    for prefix, line in zip(
        ("load >= 250k", "four seed queries <= 1.0 s", ">= 30x the eql engine", "peak RSS <=",
         "each EQL seed query as a `runner hunt` process <= 0.3 s",
         "`runner hunt` processes >= 30x the eql engine"),
        body,
        strict=True,
    ):  # fmt: skip
        assert line.strip().startswith(prefix), line
        assert re.search(r": (met|NOT MET|not measured)", line), line


def test_missing_eql_package_is_reported_and_skipped(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "eql_engine_available", lambda: False)
    assert bench.main(["--events", str(EVENTS), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "eql package not installed: pip install '.[bench]'" in out
    assert "eql engine total" not in out
    _line(out, r"^  >= 30x the eql engine: not measured$")
    _line(out, r"^  `runner hunt` processes >= 30x the eql engine: not measured$")


def test_skip_hunts(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--events", str(EVENTS), "--repeat", "1", "--skip-hunts"]) == 0
    out = capsys.readouterr().out
    assert "hunts: skipped (--skip-hunts)" in out
    assert "\nhunt " not in out
    _line(out, r"^  each EQL seed query as a `runner hunt` process <= 0.3 s: not measured$")


def test_skip_eql(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--events", str(EVENTS), "--repeat", "1", "--skip-eql"]) == 0
    out = capsys.readouterr().out
    assert "eql engine: skipped (--skip-eql)" in out
    assert "eql engine total" not in out


def test_bad_arguments(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--events", "0"]) == 2
    assert "at least" in capsys.readouterr().err
