"""Fuzzing the NDJSON loader (hypothesis): files mixing good events with broken UTF-8, invalid
JSON, huge lines, deep nesting and wrong types.  Every bad line is skipped with a reason naming
its file and line number, and every good line loads."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.embedded.ingest import load_events
from runner.embedded.store import Store

STAMP = "2026-01-01T00:00:00Z"
DS = {"dataset": "fuzz", "namespace": "default"}
_unique = itertools.count()


def event_with(extra: bytes) -> bytes:
    """A good event's text with ``extra`` (raw, possibly broken) as its last field."""
    head = json.dumps({"@timestamp": STAMP, "data_stream": DS})[:-1].encode()
    return head + b', "extra": ' + extra + b"}"


def doc(value: object) -> bytes:
    return json.dumps(value).encode()


# kind -> (expected reason fragment, alternatives split by "|"; the bad line's bytes)
BAD: dict[str, tuple[str, bytes]] = {
    "utf8": ("not valid UTF-8", event_with(b'"\xff\xfe"')),
    "nul": ("invalid JSON|not valid UTF-8", event_with(b"1") + b"\x00"),
    "invalid": ("invalid JSON", event_with(b"")),
    "huge_invalid": ("invalid JSON", b'{"a": "' + b"y" * 3_000_000),
    "array": ("not a JSON object", b"[1, 2, 3]"),
    "string": ("not a JSON object", b'"just text"'),
    "ts_object": ("no usable @timestamp", doc({"@timestamp": {"a": 1}, "data_stream": DS})),
    "ts_text": ("no usable @timestamp", doc({"@timestamp": "yesterday", "data_stream": DS})),
    "ts_missing": ("no usable @timestamp", doc({"data_stream": DS, "x": 1})),
    "hit_source": ("hit without an object", b'{"_index": "i", "_id": "1", "_source": 5}'),
    "deep_array": ("nested too deeply", event_with(b"[" * 4000 + b"]" * 4000)),
    "deep_object": ("nested too deeply", event_with(b'{"a":' * 3000 + b"1" + b"}" * 3000)),
}
GOOD_KINDS = ["plain", "huge", "conflicting_types", "nested_ok", "hit"]


def good_line(kind: str) -> bytes:
    n = next(_unique)
    doc: dict[str, object] = {"@timestamp": STAMP, "data_stream": DS, "n": n}
    if kind == "huge":
        doc["big"] = "x" * 2_500_000  # longer than DuckDB's default line limit
    elif kind == "conflicting_types":
        doc["event"] = "a string where other lines have an object" if n % 2 else {"id": n}
    elif kind == "nested_ok":
        value: object = n
        for _ in range(30):
            value = {"a": value}
        doc["nest"] = value
    elif kind == "hit":
        return json.dumps(
            {"_index": "logs-fuzz-default", "_id": f"hit-{n}", "_source": doc}
        ).encode()
    return json.dumps(doc).encode()


lines = st.lists(
    st.one_of(
        st.tuples(st.just("good"), st.sampled_from(GOOD_KINDS)),
        st.tuples(st.just("bad"), st.sampled_from(sorted(BAD))),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(plan=lines)
def test_bad_lines_are_skipped_with_a_reason_and_the_rest_loads(
    tmp_path: Path, plan: list[tuple[str, str]]
) -> None:
    case = tmp_path / f"case-{next(_unique)}"
    case.mkdir()
    path = case / "events.ndjson"
    content = [good_line(kind) if what == "good" else BAD[kind][1] for what, kind in plan]
    path.write_bytes(b"\n".join(content) + b"\n")
    summary = load_events(Store(case / "runner.duckdb"), [path])
    bad = {number: BAD[kind][0] for number, (what, kind) in enumerate(plan, 1) if what == "bad"}
    assert summary.loaded == len(plan) - len(bad)
    assert summary.skipped == len(bad)
    found = {problem.line: problem for problem in summary.problems}
    assert set(found) == set(bad), (summary.problems, plan)
    for number, reason in bad.items():
        assert found[number].source == str(path)
        message = found[number].message
        assert any(r in message for r in reason.split("|")), (found[number], plan[number - 1])
        assert str(found[number]).startswith(f"{path}:{number}: ")
