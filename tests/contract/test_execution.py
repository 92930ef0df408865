"""The execution core against each backend: the alerts Kibana would give, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from runner.backends.base import Backend
from runner.errors import BackendUnavailable
from runner.execution.executor import Executor
from runner.execution.model import MAX_SIGNALS_WARNING, RuleState
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.rules.select import resolve_rule
from runner.search import EqlRequest, EqlResult, HitPage, KqlRequest
from tests.conftest import SEED_RULES
from tests.contract.conftest import Harness
from tests.contract.events import file_event, network, process

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def seed(name: str) -> Rule:
    return resolve_rule(load_rules([SEED_RULES]).rules, name)


def alerted_ids(backend: Backend, rule: Rule) -> set[str]:
    return {
        ancestor["id"]
        for alert in backend.list_alerts(rule_ids=[rule.rule_id])
        for ancestor in alert["kibana.alert.ancestors"]
        if ancestor["type"] == "event"
    }


def shells(backend: Backend, rule: Rule) -> list[dict[str, object]]:
    return [
        a
        for a in backend.list_alerts(rule_ids=[rule.rule_id])
        if "kibana.alert.building_block_type" not in a
    ]


def test_emond_alerts_the_right_events_once(harness: Harness) -> None:
    rule = seed("emond")
    harness.load(
        [
            process("tp-bash", NOW - 2 * MIN),
            process("tp-upper", NOW - 3 * MIN, name="PYTHON3", parent="Emond"),  # ':' ignores case
            process("fp-ls", NOW - 2 * MIN, name="ls"),
            process("fp-linux", NOW - 2 * MIN, os_type="linux"),
            process("fp-end", NOW - 2 * MIN, event_type="end"),
            process("fp-old", NOW - 20 * MIN),
        ]
    )
    executor = Executor(backend=harness.backend)
    first = executor.run(rule, NOW)
    assert [r.status for r in first] == ["succeeded"]
    assert first[0].alerts_created == 2
    assert alerted_ids(harness.backend, rule) == {"tp-bash", "tp-upper"}
    alert = shells(harness.backend, rule)[0]
    assert alert["kibana.alert.rule.rule_id"] == rule.rule_id
    assert alert["event.kind"] == "signal"
    # A second execution at the same logical time finds the same events: all duplicates.
    second = executor.run(rule, NOW)
    assert (second[0].alerts_created, second[0].duplicates) == (0, 2)
    assert len(shells(harness.backend, rule)) == 2


def test_timestamp_override_with_fallback(harness: Harness) -> None:
    rule = seed("emond")  # timestamp_override = event.ingested
    harness.load(
        [
            # Late arrival: happened long ago but ingested inside the window -> alerts.
            process("tp-late", NOW - 60 * MIN, ingested=NOW - 1 * MIN),
            # No event.ingested: @timestamp inside the window is used instead.
            process("tp-fallback", NOW - 2 * MIN, ingested=None),
            # Ingested before the window although @timestamp is inside: no alert.
            process("fp-early", NOW - 2 * MIN, ingested=NOW - 30 * MIN),
        ]
    )
    Executor(backend=harness.backend).run(rule, NOW)
    assert alerted_ids(harness.backend, rule) == {"tp-late", "tp-fallback"}


def test_window_edges_are_inclusive(harness: Harness) -> None:
    rule = seed("emond")
    harness.load(
        [
            process("tp-start", NOW - 9 * MIN, ingested=NOW - 9 * MIN),
            process("tp-end", NOW, ingested=NOW),
            process("fp-before", NOW - 9 * MIN, ingested=NOW - 9 * MIN - timedelta(milliseconds=1)),
            process("fp-after", NOW, ingested=NOW + timedelta(milliseconds=1)),
        ]
    )
    Executor(backend=harness.backend).run(rule, NOW)
    assert alerted_ids(harness.backend, rule) == {"tp-start", "tp-end"}


def test_cap_writes_max_signals_and_reports_partial_failure(harness: Harness) -> None:
    rule = seed("emond")
    harness.load(
        [process(f"tp-{i:03d}", NOW - 5 * MIN + i * timedelta(seconds=1)) for i in range(150)]
    )
    records = Executor(backend=harness.backend).run(rule, NOW)
    assert len(records) == 1
    record = records[0]
    assert (record.status, record.alerts_created, record.capped) == ("partial failure", 100, True)
    assert record.message == MAX_SIGNALS_WARNING
    assert len(shells(harness.backend, rule)) == 100


def test_installer_sequence_writes_shell_and_building_blocks(harness: Harness) -> None:
    rule = seed("installer")
    harness.load(
        [
            process(
                "seq-a",
                NOW - 3 * MIN,
                name="bash",
                parent="installer",
                entity_id="E1",
                ingested=None,
            ),
            network("seq-b", NOW - 3 * MIN + timedelta(seconds=5), parent_entity_id="E1"),
            # Outside maxspan (15s): no sequence.
            process("late-a", NOW - 6 * MIN, name="sh", parent="installer", entity_id="E2"),
            network("late-b", NOW - 6 * MIN + timedelta(seconds=20), parent_entity_id="E2"),
            # Parent entity does not join.
            process("nj-a", NOW - 4 * MIN, name="zsh", parent="installer", entity_id="E3"),
            network("nj-b", NOW - 4 * MIN + timedelta(seconds=2), parent_entity_id="OTHER"),
        ]
    )
    records = Executor(backend=harness.backend).run(rule, NOW)
    assert records[0].alerts_created == 1  # only shells count
    alerts = harness.backend.list_alerts(rule_ids=[rule.rule_id])
    blocks = [a for a in alerts if a.get("kibana.alert.building_block_type") == "default"]
    shell = [a for a in alerts if "kibana.alert.building_block_type" not in a]
    assert len(shell) == 1 and len(blocks) == 2
    group = shell[0]["kibana.alert.group.id"]
    assert {b["kibana.alert.group.id"] for b in blocks} == {group}
    assert sorted(b["kibana.alert.group.index"] for b in blocks) == [0, 1]
    assert alerted_ids(harness.backend, rule) == {"seq-a", "seq-b"}


def test_exim4_new_terms_against_the_history(harness: Harness) -> None:
    rule = seed("exim4")
    old = NOW - timedelta(days=3)
    harness.load(
        [
            process(
                "hist-seen",
                old,
                name="curl",
                parent="exim4",
                os_type="linux",
                executable="/usr/bin/curl",
            ),
            process(
                "seen-again",
                NOW - 2 * MIN,
                name="curl",
                parent="exim4",
                os_type="linux",
                executable="/usr/bin/curl",
            ),
            process(
                "new-1",
                NOW - 3 * MIN,
                name="nc",
                parent="exim4",
                os_type="linux",
                executable="/tmp/nc",
            ),
            process(
                "new-1-again",
                NOW - 1 * MIN,
                name="nc",
                parent="exim4",
                os_type="linux",
                executable="/tmp/nc",
            ),
            process(
                "excluded",
                NOW - 2 * MIN,
                name="sshd",
                parent="exim4",
                os_type="linux",
                executable="/tmp/sshd",
            ),
            process(
                "wrong-parent",
                NOW - 2 * MIN,
                name="nc",
                parent="exim",
                os_type="linux",
                executable="/tmp/other",
            ),
            process(
                "too-old-history",
                NOW - timedelta(days=15),
                name="wget",
                parent="exim4",
                os_type="linux",
                executable="/usr/bin/wget",
            ),
            process(
                "new-2",
                NOW - 2 * MIN,
                name="wget",
                parent="exim4",
                os_type="linux",
                executable="/usr/bin/wget",
            ),
        ]
    )
    records = Executor(backend=harness.backend).run(rule, NOW)
    assert records[0].status == "succeeded"
    alerts = shells(harness.backend, rule)
    # One alert per new term, built from the oldest document carrying it in the window.
    assert sorted(a["kibana.alert.new_terms"] for a in alerts) == [["/tmp/nc"], ["/usr/bin/wget"]]
    assert alerted_ids(harness.backend, rule) == {"new-1", "new-2"}
    again = Executor(backend=harness.backend).run(rule, NOW)
    assert again[0].alerts_created == 0


def test_catch_up_windows_after_downtime(harness: Harness) -> None:
    rule = seed("emond")
    harness.load(
        [
            process("in-catch-up", NOW - 14 * MIN),  # only a catch-up window covers it
            process("in-main", NOW - 1 * MIN),
        ]
    )
    harness.backend.save_state(RuleState(rule_id=rule.rule_id, covered_to=NOW - 20 * MIN))
    records = Executor(backend=harness.backend).run(rule, NOW)
    assert [r.catch_up for r in records] == [True, True, True, False]
    assert all(r.status == "succeeded" for r in records)
    assert alerted_ids(harness.backend, rule) == {"in-catch-up", "in-main"}
    state = harness.backend.load_state(rule.rule_id)
    assert state is not None and state.covered_to == NOW


def test_long_downtime_records_a_gap(harness: Harness) -> None:
    rule = seed("emond")
    harness.backend.save_state(RuleState(rule_id=rule.rule_id, covered_to=NOW - 3 * 60 * MIN))
    records = Executor(backend=harness.backend).run(rule, NOW)
    gap_record = records[0]
    assert gap_record.status == "failed" and gap_record.gap_seconds is not None
    assert "were not queried" in gap_record.message
    gaps = harness.backend.open_gaps(rule.rule_id)
    assert len(gaps) == 1
    assert gaps[0].start == NOW - 3 * 60 * MIN
    assert gaps[0].end == records[1].window_start


class FailingSearch:
    """Wraps a real backend; its first EQL search fails like an unreachable cluster."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.failures = 1

    def search_eql(self, request: EqlRequest) -> EqlResult:
        if self.failures:
            self.failures -= 1
            raise BackendUnavailable("cluster unreachable")
        return self.inner.search_eql(request)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_failed_execution_does_not_advance_and_is_searched_again(harness: Harness) -> None:
    rule = seed("emond")
    harness.load([process("tp", NOW - 2 * MIN)])
    backend = FailingSearch(harness.backend)
    executor = Executor(backend=backend)  # type: ignore[arg-type]
    failed = executor.run(rule, NOW)
    assert [r.status for r in failed] == ["failed"]
    assert "cluster unreachable" in failed[0].message
    state = harness.backend.load_state(rule.rule_id)
    assert state is not None and state.covered_to == NOW - 9 * MIN  # not advanced past the start
    # Ten minutes later the failed window is searched again by a catch-up window.
    later = executor.run(rule, NOW + 10 * MIN)
    assert any(r.catch_up for r in later)
    assert alerted_ids(harness.backend, rule) == {"tp"}


@pytest.mark.parametrize("stem", ["emond", "hidden", "installer", "exim4"])
def test_every_seed_rule_executes_cleanly_on_an_empty_store(harness: Harness, stem: str) -> None:
    rule = replace(seed(stem))
    records = Executor(backend=harness.backend).run(rule, NOW)
    assert [r.status for r in records] == ["succeeded"]
    assert records[0].alerts_created == 0


def _many(stem: str, count: int) -> list[dict[str, object]]:
    """``count`` independent matches of a seed rule inside its window ending at NOW."""
    second = timedelta(seconds=1)
    start = NOW - 8 * MIN
    if stem == "emond":
        return [process(f"e-{i}", start + i * second) for i in range(count)]
    if stem == "hidden":
        return [
            file_event(f"f-{i}", start + i * second, path=f"/Library/LaunchAgents/.x{i}.plist")
            for i in range(count)
        ]
    if stem == "installer":
        events: list[dict[str, object]] = []
        for i in range(count):
            at = start + 2 * i * second
            events.append(process(f"a-{i}", at, parent="installer", entity_id=f"P{i}"))
            events.append(network(f"b-{i}", at + second, parent_entity_id=f"P{i}"))
        return events
    return [
        process(
            f"x-{i}",
            start + i * second,
            name="nc",
            parent="exim4",
            os_type="linux",
            executable=f"/tmp/tool-{i}",
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("stem", ["emond", "hidden", "installer", "exim4"])
def test_each_seed_rule_caps_at_max_signals_then_dedupes(harness: Harness, stem: str) -> None:
    rule = seed(stem)
    harness.load(_many(stem, 150))
    executor = Executor(backend=harness.backend)
    (record,) = executor.run(rule, NOW)
    assert (record.status, record.alerts_created, record.capped) == ("partial failure", 100, True)
    assert record.message == MAX_SIGNALS_WARNING
    assert len(shells(harness.backend, rule)) == 100
    (again,) = executor.run(rule, NOW)
    if rule.type == "new_terms":
        # Terms already alerted are dropped before the cap, so the 50 left over come now.
        assert (again.alerts_created, again.duplicates, again.status) == (50, 100, "succeeded")
        (again,) = executor.run(rule, NOW)
        assert (again.alerts_created, again.duplicates) == (0, 150)
    else:
        # EQL returns the most recent max_signals matches: all of them are duplicates now.
        assert (again.alerts_created, again.duplicates) == (0, 100)
    assert len(shells(harness.backend, rule)) == (150 if rule.type == "new_terms" else 100)


QUERY_RULE = """\
[rule]
name = "Bash From Emond (query rule)"
rule_id = "q-1"
type = "query"
language = "kuery"
description = "KQL query rule for the contract suite."
index = ["logs-endpoint.events.process*"]
risk_score = 21
severity = "low"
from = "now-9m"
timestamp_override = "event.ingested"
query = 'host.os.type:macos and process.parent.name:emond and process.name:(bash or "sh")'
"""


def test_query_rule_alerts_pages_past_duplicates_and_caps(harness: Harness) -> None:
    path = harness.tmp / "query_rule.toml"
    path.write_text(QUERY_RULE)
    (rule,) = load_rules([path]).rules
    start = NOW - 8 * MIN
    harness.load(
        [process(f"q-{i}", start + i * timedelta(seconds=1)) for i in range(150)]
        + [
            process("q-sh", NOW - MIN, name="sh"),
            process("q-zsh", NOW - MIN, name="zsh"),  # not in the value list
            process("q-Bash", NOW - MIN, name="Bash"),  # KQL on keywords is case-sensitive
        ]
    )
    executor = Executor(backend=harness.backend)
    (first,) = executor.run(rule, NOW)
    assert (first.status, first.alerts_created, first.capped) == ("partial failure", 100, True)
    (second,) = executor.run(rule, NOW)  # the oldest 100 are duplicates; the rest fit the cap
    assert (second.status, second.alerts_created) == ("succeeded", 51)
    ids = alerted_ids(harness.backend, rule)
    assert "q-sh" in ids and "q-zsh" not in ids and "q-Bash" not in ids
    assert len(ids) == 151


def test_alert_timestamps_wall_clock_and_intended_time(harness: Harness) -> None:
    rule = seed("emond")
    harness.load([process("tp", NOW - 2 * MIN)])
    wall = datetime(2024, 6, 1, 8, 30, tzinfo=UTC)
    Executor(backend=harness.backend, clock=lambda: wall).run(rule, NOW, manual=True)
    (alert,) = shells(harness.backend, rule)
    assert alert["@timestamp"] == "2024-06-01T08:30:00.000Z"  # when it was created
    assert alert["kibana.alert.intended_timestamp"] == "2024-05-01T12:00:00.000Z"  # replayed
    assert alert["kibana.alert.rule.execution.type"] == "manual"
    (record,) = harness.backend.list_executions(rule_ids=[rule.rule_id])
    assert alert["kibana.alert.rule.execution.uuid"] == record.execution_id


def test_alert_overrides_apply_on_every_backend(harness: Harness) -> None:
    from runner.rules.overrides import AlertOverrides, RiskScoreMapping, SeverityMapping

    rule = replace(
        seed("emond"),
        overrides=AlertOverrides(
            rule_name_override="process.name",
            severity_mapping=(SeverityMapping(field="user.name", value="alice", severity="high"),),
            risk_score_mapping=(RiskScoreMapping(field="process.pid"),),
        ),
    )
    harness.load(
        [
            process("tp-root", NOW - 2 * MIN, name="curl"),
            process("tp-alice", NOW - 3 * MIN, name="bash", user="alice"),
        ]
    )
    Executor(backend=harness.backend).run(rule, NOW)
    by_event = {
        alert["kibana.alert.ancestors"][0]["id"]: alert
        for alert in harness.backend.list_alerts(rule_ids=[rule.rule_id])
    }
    assert by_event["tp-root"]["kibana.alert.rule.name"] == "curl"
    assert by_event["tp-root"]["kibana.alert.severity"] == "medium"
    assert by_event["tp-alice"]["kibana.alert.severity"] == "high"
    assert by_event["tp-alice"]["kibana.alert.rule.name"] == "bash"
    # No process.pid in these events: the rule's own risk score stays.
    assert {a["kibana.alert.risk_score"] for a in by_event.values()} == {rule.risk_score}


def test_execution_records_written_in_one_batch_read_back_newest_first(
    harness: Harness,
) -> None:
    """The daemon's batched execution log: every record of a batch is stored as one alone."""
    rule = seed("emond")
    (one,) = Executor(backend=harness.backend, clock=lambda: NOW).run(rule, NOW)
    later = [
        replace(one, execution_id=f"{one.execution_id}-{n}", started_at=NOW + n * MIN,
                ended_at=NOW + n * MIN, status="partial failure", message=f"batch {n}")
        for n in (1, 2)
    ]  # fmt: skip
    harness.backend.record_executions(later)
    harness.backend.record_executions([])
    records = harness.backend.list_executions(rule_ids=[rule.rule_id])
    assert records == [later[1], later[0], one]


def _query_rule(harness: Harness, max_signals: int) -> Rule:
    path = harness.tmp / "query_rule.toml"
    path.write_text(QUERY_RULE)
    (rule,) = load_rules([path]).rules
    return replace(rule, max_signals=max_signals)


def test_query_rule_pages_past_the_result_window_when_max_signals_does_not_divide_it(
    harness: Harness,
) -> None:
    """Paging with ``from`` would ask for from + size = 12 > 10 on the fourth page (a 400 on
    a cluster); a point in time with ``search_after`` has no such limit."""
    if harness.kind != "embedded":
        # index.max_result_window = 10 on the test's data stream (a real Elasticsearch setting)
        harness.backend.client.request(  # type: ignore[attr-defined]
            "PUT",
            f"/_index_template/runner-test-{harness.namespace}-window",
            {
                "index_patterns": [f"logs-endpoint.events.process-{harness.namespace}"],
                "data_stream": {},
                "priority": 500,
                "composed_of": ["logs@mappings", "ecs@mappings"],
                "template": {"settings": {"index.max_result_window": 10}},
            },
        )
    rule = _query_rule(harness, max_signals=3)
    start = NOW - 8 * MIN
    harness.load([process(f"w-{i:02d}", start + i * timedelta(seconds=1)) for i in range(14)])
    if harness.kind != "embedded":  # the limit holds for from/size
        deep = harness.backend.client.request(  # type: ignore[attr-defined]
            "POST",
            f"/logs-endpoint.events.process-{harness.namespace}/_search",
            {"from": 9, "size": 3},
            allow=(400,),
        )
        assert deep.status == 400 and "Result window is too large" in str(deep.body)
    executor = Executor(backend=harness.backend)
    created = [executor.run(rule, NOW)[0].alerts_created for _ in range(5)]
    # Each run skips the alerts that exist and pages on: 3 + 3 + 3 + 3 + 2.
    assert created == [3, 3, 3, 3, 2]
    assert alerted_ids(harness.backend, rule) == {f"w-{i:02d}" for i in range(14)}


class ArrivalsWhilePaging:
    """Wraps a backend: after the first page of a query rule, more events arrive."""

    def __init__(self, harness: Harness, late: list[dict[str, object]]) -> None:
        self.inner = harness.backend
        self.harness = harness
        self.late = late
        self.name = harness.backend.name
        self.seen: list[str] = []

    def query_pages(self, request: KqlRequest) -> Iterator[HitPage]:
        for n, page in enumerate(self.inner.query_pages(request)):
            self.seen += [h.id for h in page.hits]
            yield page
            if n == 0:
                self.harness.load(self.late)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_documents_arriving_during_paging_neither_shift_nor_join_the_pages(
    harness: Harness,
) -> None:
    rule = _query_rule(harness, max_signals=3)
    start = NOW - 8 * MIN
    harness.load([process(f"o-{i}", start + i * timedelta(seconds=10)) for i in range(6)])
    executor = Executor(backend=harness.backend)
    (first,) = executor.run(rule, NOW)  # o-0..o-2, capped
    assert first.alerts_created == 3
    # Older than every page so far: with offsets they would push o-2 into page two.
    late = [process(f"late-{i}", start - timedelta(seconds=30 - i),
                    ingested=start - timedelta(seconds=30 - i)) for i in range(2)]  # fmt: skip
    wrapped = ArrivalsWhilePaging(harness, late)
    (second,) = Executor(backend=wrapped).run(rule, NOW)  # type: ignore[arg-type]
    assert wrapped.seen == [f"o-{i}" for i in range(6)]  # one view: each once, in order
    assert second.alerts_created == 3
    (third,) = executor.run(rule, NOW)  # a later execution sees the late events
    assert third.alerts_created == 2
    assert alerted_ids(harness.backend, rule) == {f"o-{i}" for i in range(6)} | {
        "late-0", "late-1"}  # fmt: skip
