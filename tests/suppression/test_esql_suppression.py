"""ES|QL alert suppression on both backends (the embedded store, and the Elasticsearch backend
through the real client against the engine-backed stand-in), as Kibana's ES|QL rule type does
it: rows wrapped with suppression fields (wrapSuppressedEsqlAlerts), then the shared in-memory
suppression, with created + suppressed alerts capped at 1 x max_signals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runner.alerts.ids import alert_id_for_esql_event, suppression_instance_id
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

EVENTS = """FROM logs-endpoint.events.process-* METADATA _id, _index, _version
| WHERE process.parent.name == "emond"
| KEEP @timestamp, event.ingested, _id, _index, _version, host.name, process.name"""

PER_HOST = """FROM logs-endpoint.events.process-*
| WHERE process.parent.name == "emond"
| STATS Esql.count = COUNT(*) BY host.name"""

PER_HOST_WITH_TIME = """FROM logs-endpoint.events.process-*
| WHERE process.parent.name == "emond"
| STATS Esql.count = COUNT(*), event.ingested = MAX(event.ingested) BY host.name"""

DURATION = '\n[rule.alert_suppression.duration]\nvalue = 1\nunit = "h"'


def event(event_id: str, at: datetime, host: Any = "h1", **extra: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "@timestamp": isoformat(at),
        # Ingested 30s after the event: the rule's timestamp_override places the alerts.
        "event": {"category": ["process"], "type": ["start"], "ingested": isoformat(at + MIN / 2)},
        "process": {"name": "bash", "parent": {"name": "emond"}},
    }
    if host is not None:
        source["host"] = {"name": host}
    source.update(extra)
    return {"_index": INDEX, "_id": event_id, "_source": source}


def esql_rule(tmp: Path, query: str, suppression: str, max_signals: int = 100) -> Rule:
    text = f"""
[metadata]
creation_date = "2024/05/01"
[rule]
rule_id = "suppress-esql"
name = "Suppressed esql"
description = "test"
type = "esql"
language = "esql"
query = '''{query}'''
risk_score = 21
severity = "low"
from = "now-9m"
interval = "5m"
max_signals = {max_signals}
timestamp_override = "event.ingested"
[rule.alert_suppression]
{suppression}
"""
    folder = tmp / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "esql.toml").write_text(text)
    loaded = load_rules([folder / "esql.toml"])
    assert not loaded.errors, loaded.errors
    (rule,) = loaded.rules
    return rule


def run(both: Both, rule: Rule, now: datetime = NOW) -> ExecutionRecord:
    # A new executor each time (a restarted daemon): all it needs is in the stored alerts.
    clock: Callable[[], datetime] = lambda: now  # noqa: E731 - the alerts' creation time
    (record,) = Executor(backend=both.backend, clock=clock).run(rule, now)
    return record


def alerts(both: Both, rule: Rule) -> list[dict[str, Any]]:
    return both.backend.list_alerts(rule_ids=[rule.rule_id])


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


def ingested(at: datetime) -> str:
    return isoformat(at + MIN / 2)


def test_rows_of_one_execution_suppress_by_their_terms(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(tmp_path, EVENTS, 'group_by = ["host.name"]')
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN), event("c", NOW - 1 * MIN),
               event("d", NOW - 2 * MIN, host="h2"), event("e", NOW - 4 * MIN, host=None),
               event("f", NOW - 2 * MIN, host=None)])  # fmt: skip
    record = run(both, rule)
    assert (record.status, record.alerts_created, record.extra["suppressed"]) == ("succeeded", 3, 3)
    found = alerts(both, rule)
    # start/end: the rows' timestamp_override (event.ingested), oldest and newest of the group
    assert groups(found) == {
        str([["h1"]]): (2, ingested(NOW - 3 * MIN), ingested(NOW - 1 * MIN)),
        str([["h2"]]): (0, ingested(NOW - 2 * MIN), ingested(NOW - 2 * MIN)),
        str([None]): (1, ingested(NOW - 4 * MIN), ingested(NOW - 2 * MIN)),
    }
    h1 = next(a for a in found if a["kibana.alert.suppression.docs_count"] == 2)
    # The group's alert is its oldest row's, with the ES|QL id of that source document.
    assert h1["kibana.alert.ancestors"][0]["id"] == "a"
    assert h1["kibana.alert.uuid"] == alert_id_for_esql_event(rule.rule_id, INDEX, "a")
    terms = [{"field": "host.name", "value": ["h1"]}]
    assert h1["kibana.alert.instance.id"] == suppression_instance_id(rule.rule_id, terms)
    assert h1["kibana.alert.start"] == isoformat(NOW)


def test_aggregating_rows_are_placed_at_the_time_they_were_found(
    both: Both, tmp_path: Path
) -> None:
    rule = esql_rule(tmp_path, PER_HOST, 'group_by = ["host.name"]' + DURATION)
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN),
               event("c", NOW - 2 * MIN, host="h2")])  # fmt: skip
    first = run(both, rule)
    assert (first.alerts_created, first.extra["suppressed"]) == (2, 0)
    # A STATS row has no time column: start = end = the alert's creation time.
    assert groups(alerts(both, rule)) == {
        str([["h1"]]): (0, isoformat(NOW), isoformat(NOW)),
        str([["h2"]]): (0, isoformat(NOW), isoformat(NOW)),
    }
    later = NOW + 5 * MIN
    both.load([event("d", later - 1 * MIN, host="h3")])
    second = run(both, rule, later)
    # The overlapping window finds h1 and h2 again: new rows (ids from the window) that the
    # duration suppresses into the existing alerts; h3 is new.
    assert (second.alerts_created, second.extra["updated"], second.extra["suppressed"]) == (1, 2, 2)
    found = groups(alerts(both, rule))
    assert found[str([["h1"]])] == (1, isoformat(NOW), isoformat(later))
    assert found[str([["h3"]])] == (0, isoformat(later), isoformat(later))
    h1 = next(a for a in alerts(both, rule) if a["host.name"] == "h1")
    assert h1["kibana.alert.last_detected"] == isoformat(later)
    assert h1["Esql.count"] == 2  # the alert keeps its first row's values


def test_aggregating_rows_with_a_time_column_use_it(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(tmp_path, PER_HOST_WITH_TIME, 'group_by = ["host.name"]')
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN)])
    assert run(both, rule).alerts_created == 1
    assert groups(alerts(both, rule)) == {
        str([["h1"]]): (0, ingested(NOW - 2 * MIN), ingested(NOW - 2 * MIN))
    }


def test_duration_updates_the_alert_and_never_counts_a_row_twice(
    both: Both, tmp_path: Path
) -> None:
    rule = esql_rule(tmp_path, EVENTS, 'group_by = ["host.name"]' + DURATION)
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN)])
    first = run(both, rule)
    assert (first.alerts_created, first.extra["suppressed"]) == (1, 1)
    later = NOW + 5 * MIN
    both.load([event("c", later - 1 * MIN), event("d", later - 1 * MIN, host="h2")])
    second = run(both, rule, later)
    # a (its own alert) and b (suppressed before, up to the alert's end) are found again by
    # the overlap and not counted; c updates the alert, d is a new group.
    assert (second.alerts_created, second.extra["updated"]) == (1, 1)
    found = groups(alerts(both, rule))
    assert found[str([["h1"]])] == (2, ingested(NOW - 3 * MIN), ingested(later - 1 * MIN))
    third = run(both, rule, later + 5 * MIN)
    assert (third.alerts_created, third.extra.get("updated", 0)) == (0, 0)
    assert groups(alerts(both, rule))[str([["h1"]])][0] == 2


def test_per_execution_creates_a_new_alert_in_each_execution(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(tmp_path, EVENTS, 'group_by = ["host.name"]')
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN)])
    assert run(both, rule).alerts_created == 1
    later = NOW + 5 * MIN
    both.load([event("c", later - 1 * MIN)])
    second = run(both, rule, later)
    assert (second.alerts_created, second.extra.get("updated", 0)) == (1, 0)
    counts = sorted(a["kibana.alert.suppression.docs_count"] for a in alerts(both, rule))
    assert counts == [0, 1]


def test_do_not_suppress_missing_fields(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(
        tmp_path, EVENTS, 'group_by = ["host.name"]\nmissing_fields_strategy = "doNotSuppress"'
    )
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN),
               event("e", NOW - 2 * MIN, host=None), event("f", NOW - 1 * MIN, host=None),
               # host.name present but null: lodash pick keeps it, so it is suppressed (null term)
               event("n1", NOW - 2 * MIN, host=None, **{"host.name": None}),
               event("n2", NOW - 1 * MIN, host=None, **{"host.name": None})])  # fmt: skip
    record = run(both, rule)
    found = alerts(both, rule)
    assert record.alerts_created == 4 and len(found) == 4
    plain = [a for a in found if "kibana.alert.suppression.terms" not in a]
    assert sorted(a["kibana.alert.ancestors"][0]["id"] for a in plain) == ["e", "f"]
    assert groups(found) == {
        str([["h1"]]): (1, ingested(NOW - 3 * MIN), ingested(NOW - 2 * MIN)),
        str([None]): (1, ingested(NOW - 2 * MIN), ingested(NOW - 1 * MIN)),
    }


def test_created_plus_suppressed_are_capped_at_max_signals(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(tmp_path, EVENTS, 'group_by = ["host.name"]', max_signals=3)
    both.load([event(f"e{i}", NOW - (6 - i) * MIN) for i in range(5)])
    record = run(both, rule)
    # ES|QL reads max_signals rows: 1 alert + 2 suppressed reach 1 x max_signals.
    assert (record.status, record.message) == ("partial failure", SUPPRESSION_MAX_SIGNALS_WARNING)
    assert (record.alerts_created, record.extra["suppressed"], record.capped) == (1, 2, True)
    assert [v[0] for v in groups(alerts(both, rule)).values()] == [2]


def test_below_the_cap_no_warning(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(tmp_path, EVENTS, 'group_by = ["host.name"]', max_signals=3)
    both.load([event("a", NOW - 3 * MIN), event("b", NOW - 2 * MIN)])
    record = run(both, rule)
    assert (record.status, record.alerts_created, record.extra["suppressed"]) == ("succeeded", 1, 1)


def test_more_groups_than_max_signals(both: Both, tmp_path: Path) -> None:
    rule = esql_rule(tmp_path, PER_HOST, 'group_by = ["host.name"]', max_signals=2)
    both.load([event(f"e{i}", NOW - 2 * MIN, host=f"h{i}") for i in range(4)])
    record = run(both, rule)
    assert (record.alerts_created, record.status) == (2, "partial failure")
    assert record.message == SUPPRESSION_MAX_SIGNALS_WARNING
