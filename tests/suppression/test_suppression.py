"""Alert suppression on both backends: groups, per execution and with a duration, missing
fields, arrays, max_signals, sequences and new_terms, as Kibana's suppression code does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.execution.executor import Executor
from runner.execution.model import ExecutionRecord
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.suppression.model import SUPPRESSION_MAX_SIGNALS_WARNING
from runner.timeutil import isoformat
from tests.both import Both

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
INDEX = "logs-endpoint.events.process-default"


def event(
    event_id: str, at: datetime, host: Any = "h1", name: str = "bash", **extra: Any
) -> dict[str, Any]:
    source: dict[str, Any] = {
        "@timestamp": isoformat(at),
        "event": {"category": ["process"], "type": ["start"], "kind": "event"},
        "process": {"name": name, "parent": {"name": "emond"}, "entity_id": f"e-{event_id}"},
    }
    if host is not None:
        source["host"] = {"name": host}
    source.update(extra)
    return {"_index": INDEX, "_id": event_id, "_source": source}


def rule_file(tmp: Path, kind: str, suppression: str, query: str | None = None,
              max_signals: int = 100, extra: str = "") -> Rule:  # fmt: skip
    language = "eql" if kind == "eql" else "kuery"
    default = (
        'process where process.parent.name == "emond"'
        if kind == "eql"
        else ("process.parent.name:emond")
    )
    text = f"""
[metadata]
creation_date = "2024/05/01"
[rule]
rule_id = "suppress-{kind}"
name = "Suppressed {kind}"
description = "test"
type = "{kind}"
language = "{language}"
query = '''{query or default}'''
index = ["logs-endpoint.events.process*"]
risk_score = 21
severity = "low"
from = "now-9m"
interval = "5m"
max_signals = {max_signals}
{extra}
[rule.alert_suppression]
{suppression}
"""
    folder = tmp / "rules"
    folder.mkdir(exist_ok=True)
    (folder / f"{kind}.toml").write_text(text)
    loaded = load_rules([folder / f"{kind}.toml"])
    assert not loaded.errors, loaded.errors
    (rule,) = loaded.rules
    return rule


def run(both: Both, rule: Rule, now: datetime = NOW) -> ExecutionRecord:
    (record,) = Executor(backend=both.backend).run(rule, now)
    return record


def alerts(both: Both, rule: Rule) -> list[dict[str, Any]]:
    found = both.backend.list_alerts(rule_ids=[rule.rule_id])
    return sorted(
        (a for a in found if "kibana.alert.building_block_type" not in a),
        key=lambda a: str(a.get("kibana.alert.suppression.terms")),
    )


def groups(found: list[dict[str, Any]]) -> dict[str, tuple[int, str, str]]:
    """terms -> (docs_count, start, end)"""
    return {
        str([t["value"] for t in a["kibana.alert.suppression.terms"]]): (
            a["kibana.alert.suppression.docs_count"],
            a["kibana.alert.suppression.start"],
            a["kibana.alert.suppression.end"],
        )
        for a in found
        if "kibana.alert.suppression.terms" in a
    }


@pytest.mark.parametrize("kind", ["eql", "query"])
def test_per_execution_groups_and_missing_fields_suppressed(
    both: Both, tmp_path: Path, kind: str
) -> None:
    rule = rule_file(tmp_path, kind, 'group_by = ["host.name"]')
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN), event("c", NOW - 1 * MIN),
               event("d", NOW - 2 * MIN, host="h2"), event("e", NOW - 2 * MIN, host=None),
               event("f", NOW - 4 * MIN, host=None)])  # fmt: skip
    record = run(both, rule)
    assert (record.status, record.alerts_created, record.extra["suppressed"]) == ("succeeded", 3, 3)
    # eql groups a field's values as one sorted array; query as each value (aggregation keys)
    h1, h2 = (["h1"], ["h2"]) if kind == "eql" else ("h1", "h2")
    assert groups(alerts(both, rule)) == {
        str([h1]): (2, isoformat(NOW - 3 * MIN), isoformat(NOW - 1 * MIN)),
        str([h2]): (0, isoformat(NOW - 2 * MIN), isoformat(NOW - 2 * MIN)),
        str([None]): (1, isoformat(NOW - 4 * MIN), isoformat(NOW - 2 * MIN)),
    }
    first = next(a for a in alerts(both, rule) if a["kibana.alert.suppression.docs_count"] == 2)
    assert first["kibana.alert.ancestors"][0]["id"] == "a"  # built from the oldest event
    assert first["kibana.alert.instance.id"] and first["kibana.alert.start"] == isoformat(NOW)


@pytest.mark.parametrize("kind", ["eql", "query"])
def test_do_not_suppress_missing_fields(both: Both, tmp_path: Path, kind: str) -> None:
    rule = rule_file(
        tmp_path, kind, 'group_by = ["host.name"]\nmissing_fields_strategy = "doNotSuppress"'
    )
    both.load(
        [
            event("a", NOW - 3 * MIN),
            event("b", NOW - 2 * MIN),
            event("e", NOW - 2 * MIN, host=None),
            event("f", NOW - 1 * MIN, host=None),
        ]
    )
    record = run(both, rule)
    found = alerts(both, rule)
    assert record.alerts_created == 3 and len(found) == 3
    plain = [a for a in found if "kibana.alert.suppression.terms" not in a]
    assert sorted(a["kibana.alert.ancestors"][0]["id"] for a in plain) == ["e", "f"]
    assert list(groups(found).values()) == [(1, isoformat(NOW - 3 * MIN), isoformat(NOW - 2 * MIN))]


@pytest.mark.parametrize("kind", ["eql", "query"])
def test_duration_updates_the_existing_alert_across_executions(
    both: Both, tmp_path: Path, kind: str
) -> None:
    rule = rule_file(tmp_path, kind, 'group_by = ["host.name"]\n[rule.alert_suppression.duration]\n'
                     'value = 1\nunit = "h"')  # fmt: skip
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN)])
    first = run(both, rule)
    assert (first.alerts_created, first.extra["suppressed"]) == (1, 1)
    later = NOW + 5 * MIN
    both.load([event("c", later - 1 * MIN), event("d", later - 1 * MIN, host="h2")])
    # A new executor (a restarted daemon): everything needed is in the stored alerts.
    second = run(both, rule, later)
    assert second.alerts_created == 1  # only h2 is new
    assert second.extra["updated"] == 1
    found = alerts(both, rule)
    assert len(found) == 2
    h1 = ["h1"] if kind == "eql" else "h1"
    count, start, end = groups(found)[str([h1])]
    assert (start, end) == (isoformat(NOW - 3 * MIN), isoformat(later - 1 * MIN))
    # a, b then c: the overlap re-finds a and b without counting them again
    assert count == 2
    updated = next(a for a in found if a["kibana.alert.suppression.docs_count"] == 2)
    assert updated["kibana.alert.last_detected"] == isoformat(later)
    third = run(both, rule, later + 5 * MIN)
    assert (third.alerts_created, third.extra.get("updated", 0)) == (0, 0)
    assert groups(alerts(both, rule))[str([h1])][0] == 2


@pytest.mark.parametrize("kind", ["eql", "query"])
def test_per_execution_creates_a_new_alert_each_execution(
    both: Both, tmp_path: Path, kind: str
) -> None:
    rule = rule_file(tmp_path, kind, 'group_by = ["host.name"]')
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN)])
    assert run(both, rule).alerts_created == 1
    later = NOW + 5 * MIN
    both.load([event("c", later - 1 * MIN)])
    second = run(both, rule, later)
    # The overlap holds a and b again: they were counted already, only c is new.
    assert second.alerts_created == 1
    counts = sorted(a["kibana.alert.suppression.docs_count"] for a in alerts(both, rule))
    assert counts == [0, 1]


def test_eql_arrays_group_as_sorted_values(both: Both, tmp_path: Path) -> None:
    rule = rule_file(tmp_path, "eql", 'group_by = ["process.args"]')
    hits = [event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN), event("c", NOW - 1 * MIN)]
    for hit, args in zip(hits, (["y", "x"], ["x", "y"], ["x"]), strict=True):
        hit["_source"]["process"]["args"] = args
    both.load(hits)
    run(both, rule)
    found = groups(alerts(both, rule))
    assert found[str([["x", "y"]])][0] == 1  # ["y","x"] and ["x","y"] are one group
    assert found[str([["x"]])][0] == 0


def test_query_arrays_group_by_each_value(both: Both, tmp_path: Path) -> None:
    rule = rule_file(tmp_path, "query", 'group_by = ["user.name"]')
    both.load([event("a", NOW - 3 * MIN, user={"name": ["alice", "bob"]}),
               event("b", NOW - 2 * MIN, user={"name": "bob"})])  # fmt: skip
    record = run(both, rule)
    found = groups(alerts(both, rule))
    assert record.alerts_created == 2
    assert found == {
        str(["alice"]): (0, isoformat(NOW - 3 * MIN), isoformat(NOW - 3 * MIN)),
        str(["bob"]): (1, isoformat(NOW - 3 * MIN), isoformat(NOW - 2 * MIN)),
    }


@pytest.mark.parametrize("kind", ["eql", "query"])
def test_max_signals_counts_created_alerts(both: Both, tmp_path: Path, kind: str) -> None:
    rule = rule_file(tmp_path, kind, 'group_by = ["host.name"]', max_signals=2)
    both.load([event(f"e{i}", NOW - 2 * MIN, host=f"h{i}") for i in range(4)])
    record = run(both, rule)
    assert record.alerts_created == 2
    assert record.status == "partial failure"
    assert record.message == SUPPRESSION_MAX_SIGNALS_WARNING


def test_sequences_suppress_on_the_shell(both: Both, tmp_path: Path) -> None:
    query = ('sequence by host.name [process where process.name == "a"] '
             '[process where process.name == "b"]')  # fmt: skip
    rule = rule_file(tmp_path, "eql", 'group_by = ["host.name"]', query=query)
    both.load(
        [
            event("a1", NOW - 5 * MIN, name="a"),
            event("b1", NOW - 4 * MIN, name="b"),
            event("a2", NOW - 3 * MIN, name="a"),
            event("b2", NOW - 2 * MIN, name="b"),
        ]
    )
    record = run(both, rule)
    assert (record.alerts_created, record.extra["suppressed"]) == (1, 1)
    everything = both.backend.list_alerts(rule_ids=[rule.rule_id])
    assert len(everything) == 3  # one shell and its two building blocks
    (shell,) = alerts(both, rule)
    assert shell["kibana.alert.suppression.docs_count"] == 1


def test_new_terms_suppression(tmp_path: Path, both: Both) -> None:
    extra = """
[rule.new_terms]
field = "new_terms_fields"
value = ["process.name"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-14d"
"""
    rule = rule_file(tmp_path, "new_terms", 'group_by = ["host.name"]', extra=extra)
    both.load([event("a", NOW - 3 * MIN, name="x"), event("b", NOW - 2 * MIN, name="y"),
               event("c", NOW - 2 * MIN, name="z", host="h2")])  # fmt: skip
    record = run(both, rule)
    assert (record.alerts_created, record.extra["suppressed"]) == (2, 1)
    assert sorted(v[0] for v in groups(alerts(both, rule)).values()) == [0, 1]


@pytest.mark.parametrize("kind", ["eql", "query"])
def test_two_concurrent_executions_give_the_alerts_of_one(
    both: Both, tmp_path: Path, kind: str
) -> None:
    import threading

    rule = rule_file(tmp_path, kind, 'group_by = ["host.name"]\n[rule.alert_suppression.duration]\n'
                     'value = 1\nunit = "h"')  # fmt: skip
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN), event("c", NOW - 1 * MIN,
               host="h2")])  # fmt: skip
    barrier = threading.Barrier(2)
    records: list[ExecutionRecord] = []

    def execute() -> None:
        barrier.wait()
        records.extend(Executor(backend=both.backend).run(rule, NOW))

    threads = [threading.Thread(target=execute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in records] == ["succeeded", "succeeded"]
    h1, h2 = (["h1"], ["h2"]) if kind == "eql" else ("h1", "h2")
    assert groups(alerts(both, rule)) == {
        str([h1]): (1, isoformat(NOW - 3 * MIN), isoformat(NOW - 2 * MIN)),
        str([h2]): (0, isoformat(NOW - 1 * MIN), isoformat(NOW - 1 * MIN)),
    }
    later = NOW + 5 * MIN
    both.load([event("d", later - 1 * MIN)])
    run(both, rule, later)
    assert groups(alerts(both, rule))[str([h1])][0] == 2


def test_query_suppression_groups_every_match_beyond_max_signals(
    both: Both, tmp_path: Path
) -> None:
    # Kibana's query suppression aggregates every match, not only the first max_signals.
    rule = rule_file(tmp_path, "query", 'group_by = ["host.name"]', max_signals=5)
    both.load([event(f"e{i:02d}", NOW - 3 * MIN + i * timedelta(seconds=1), host=f"h{i % 2}")
               for i in range(12)])  # fmt: skip
    record = run(both, rule)
    assert record.alerts_created == 2
    counts = {terms: count for terms, (count, _, _) in groups(alerts(both, rule)).items()}
    assert counts == {str(["h0"]): 5, str(["h1"]): 5}  # 6 events each: 1 alert + 5 suppressed
