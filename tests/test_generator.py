"""The demo event generator: determinism, document shape, and honest labels.

The "would this alert" checks below restate each seed rule as a plain Python predicate,
independently of the generator and of any query engine, and recompute the alerts from the
generated documents; the manifest must say exactly the same.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from runner.demo import (
    RULE_EMOND,
    RULE_EXIM4,
    RULE_HIDDEN_PLIST,
    RULE_INSTALLER,
    RULES,
    EventSet,
    GeneratorConfig,
    Manifest,
    generate,
    read_manifest,
    write_manifest,
    write_ndjson,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=9)
HISTORY = timedelta(days=14)
MAXSPAN = timedelta(seconds=15)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

Doc = dict[str, Any]


# -- the seed rules, restated ---------------------------------------------------------------


@cache
def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("*"))
    return re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL)


def like(value: object, *patterns: str) -> bool:
    """EQL ``field : (patterns)``: case-insensitive, ``*`` wildcard, whole value."""
    return isinstance(value, str) and any(_wildcard(p).fullmatch(value) for p in patterns)


def get(doc: Doc, dotted: str) -> Any:
    value: Any = doc
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def values(doc: Doc, dotted: str) -> list[Any]:
    value = get(doc, dotted)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ts(doc: Doc) -> datetime:
    return datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00"))


def rule_time(doc: Doc) -> datetime:
    """``event.ingested``, falling back to ``@timestamp``."""
    ingested = get(doc, "event.ingested")
    return datetime.fromisoformat(ingested.replace("Z", "+00:00")) if ingested else ts(doc)


def in_window(t: datetime, now: datetime = NOW) -> bool:
    return now - WINDOW <= t <= now


def is_index(doc: Doc, dataset: str) -> bool:
    return bool(get(doc, "data_stream.dataset") == f"endpoint.events.{dataset}")


EMOND_NAMES = (
    "bash", "dash", "sh", "tcsh", "csh", "zsh", "ksh", "fish", "Python", "python*", "perl*",
    "php*", "osascript", "pwsh", "curl", "wget", "cp", "mv", "touch", "echo", "base64",
    "launchctl",
)  # fmt: skip
HIDDEN_PLIST_PATHS = (
    "/System/Library/LaunchAgents/.*.plist",
    "/Library/LaunchAgents/.*.plist",
    "/Users/*/Library/LaunchAgents/.*.plist",
    "/System/Library/LaunchDaemons/.*.plist",
    "/Library/LaunchDaemons/.*.plist",
)
EXIM4_EXCLUDED = {
    "exim4", "start-stop-daemon", "run-parts", "systemctl", "update-exim4.conf", "install",
    "plymouth", "readlink", "grep", "stat", "cmake", "gcc", "cppcheck", "sort", "sshd",
}  # fmt: skip


def emond_query(d: Doc) -> bool:
    return (
        is_index(d, "process")
        and "process" in values(d, "event.category")
        and get(d, "host.os.type") == "macos"
        and any(t in ("start", "process_started") for t in values(d, "event.type"))
        and like(get(d, "process.parent.name"), "emond")
        and like(get(d, "process.name"), *EMOND_NAMES)
    )


def hidden_plist_query(d: Doc) -> bool:
    return (
        is_index(d, "file")
        and "file" in values(d, "event.category")
        and get(d, "host.os.type") == "macos"
        and "deletion" not in values(d, "event.type")
        and like(get(d, "file.path"), *HIDDEN_PLIST_PATHS)
    )


def installer_step1(d: Doc) -> bool:
    return (
        is_index(d, "process")
        and "process" in values(d, "event.category")
        and get(d, "host.os.type") == "macos"
        and "start" in values(d, "event.type")
        and get(d, "event.action") == "exec"
        and like(get(d, "process.parent.name"), "installer", "package_script_service")
        and like(get(d, "process.name"), "bash", "sh", "zsh", "python", "osascript", "tclsh*")
    )


def installer_step2(d: Doc) -> bool:
    return (
        is_index(d, "network")
        and "network" in values(d, "event.category")
        and get(d, "host.os.type") == "macos"
        and "start" in values(d, "event.type")
        and like(
            get(d, "process.name"), "curl", "osascript", "wget", "python", "java", "ruby", "node"
        )
    )


def exim4_query(d: Doc) -> bool:
    """KQL on keyword fields: exact and case-sensitive."""
    return (
        is_index(d, "process")
        and get(d, "host.os.type") == "linux"
        and "start" in values(d, "event.type")
        and get(d, "event.action") == "exec"
        and get(d, "process.parent.name") == "exim4"
        and get(d, "process.name") not in EXIM4_EXCLUDED
    )


def expected_alerts(docs: Sequence[Doc], now: datetime = NOW) -> dict[str, set[Any]]:
    """The alerts each rule must raise over ``now-9m..now``, computed from scratch."""
    out: dict[str, set[Any]] = {rule: set() for rule in RULES}
    for d in docs:
        for rule, query in ((RULE_EMOND, emond_query), (RULE_HIDDEN_PLIST, hidden_plist_query)):
            if query(d) and in_window(rule_time(d), now):
                out[rule].add((d["event"]["id"],))
    # Sequence by host.id, maxspan 15s, on @timestamp: step 1 by process.entity_id, step 2
    # by process.parent.entity_id.
    firsts = [d for d in docs if installer_step1(d) and in_window(ts(d), now)]
    seconds = [d for d in docs if installer_step2(d) and in_window(ts(d), now)]
    for first in firsts:
        key = (first["host"]["id"], first["process"]["entity_id"])
        follow = sorted(
            (
                s
                for s in seconds
                if (s["host"]["id"], get(s, "process.parent.entity_id")) == key
                and ts(first) < ts(s) <= ts(first) + MAXSPAN
            ),
            key=ts,
        )
        if follow:
            out[RULE_INSTALLER].add((first["event"]["id"], follow[0]["event"]["id"]))
    # new_terms on process.executable: first seen inside the window within 14 days.
    matching = sorted((d for d in docs if exim4_query(d)), key=rule_time)
    seen = {
        d["process"]["executable"] for d in matching if now - HISTORY <= rule_time(d) < now - WINDOW
    }
    for d in matching:
        term = d["process"]["executable"]
        if in_window(rule_time(d), now) and term not in seen:
            seen.add(term)
            out[RULE_EXIM4].add((d["event"]["id"], term))
    return out


def manifest_alerts(manifest: Manifest) -> dict[str, set[Any]]:
    out: dict[str, set[Any]] = {rule: set() for rule in RULES}
    for a in manifest.expected_alerts:
        out[a.rule].add(a.event_ids + ((a.new_term,) if a.new_term is not None else ()))
    return out


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> EventSet:
    return EventSet(GeneratorConfig(now=NOW, seed=7))


@pytest.fixture(scope="module")
def docs(demo: EventSet) -> list[Doc]:
    return list(demo.documents())


@pytest.fixture(scope="module")
def by_id(docs: list[Doc]) -> dict[str, Doc]:
    return {d["event"]["id"]: d for d in docs}


def lines_of(events: EventSet) -> list[str]:
    return list(events.lines())


# -- determinism and encoding ------------------------------------------------------------------


def test_same_seed_same_bytes() -> None:
    config = GeneratorConfig(now=NOW, seed=3, events=3000)
    first, second = EventSet(config), EventSet(config)
    assert lines_of(first) == lines_of(second)
    assert lines_of(first) == lines_of(first)  # every iteration regenerates the same
    assert first.manifest == second.manifest


def test_other_seed_other_documents() -> None:
    a = lines_of(EventSet(GeneratorConfig(now=NOW, seed=1)))
    b = lines_of(EventSet(GeneratorConfig(now=NOW, seed=2)))
    assert a != b
    assert len(a) == len(b) == 2000


def test_lines_and_dicts_agree(demo: EventSet, docs: list[Doc]) -> None:
    lines = lines_of(demo)
    assert len(lines) == len(docs) == 2000
    for line, doc in zip(lines, docs, strict=True):
        assert line.endswith("\n") and "\n" not in line[:-1]
        assert json.loads(line) == doc


def test_generic_writer_matches_fast_writer(demo: EventSet, docs: list[Doc]) -> None:
    fast, generic = io.BytesIO(), io.BytesIO()
    assert demo.write_ndjson(fast) == 2000
    assert write_ndjson(docs, generic) == 2000
    assert fast.getvalue() == generic.getvalue()
    text = io.StringIO()  # a text stream without a binary side
    demo.write_ndjson(text)
    assert text.getvalue().encode() == fast.getvalue()


def test_write_to_text_file(tmp_path: Path, demo: EventSet) -> None:
    path = tmp_path / "events.ndjson"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("")  # text written before goes first
        assert demo.write_ndjson(fh) == 2000
    assert path.read_text(encoding="utf-8").splitlines() == [
        line.rstrip("\n") for line in lines_of(demo)
    ]


def test_generate_function_streams_the_same(demo: EventSet, docs: list[Doc]) -> None:
    assert list(generate(now=NOW, seed=7)) == docs


# -- document shape ----------------------------------------------------------------------------


def test_required_fields(docs: list[Doc]) -> None:
    ids = set()
    for d in docs:
        assert TIMESTAMP.match(d["@timestamp"]), d["@timestamp"]
        event = d["event"]
        category = event["category"]
        assert isinstance(category, list) and len(category) == 1
        kind = category[0]
        assert kind in ("process", "file", "network")
        assert isinstance(event["type"], list) and event["type"]
        assert event["action"]
        assert event["kind"] == "event"
        assert event["module"] == "endpoint"
        assert event["dataset"] == f"endpoint.events.{kind}"
        assert d["data_stream"] == {
            "type": "logs",
            "dataset": f"endpoint.events.{kind}",
            "namespace": "default",
        }
        assert event["id"] not in ids
        ids.add(event["id"])
        if "ingested" in event:
            assert TIMESTAMP.match(event["ingested"])
            assert ts(d) <= rule_time(d) <= NOW
        host = d["host"]
        assert host["id"] and host["name"] and host["hostname"] and host["architecture"]
        assert host["os"]["type"] in ("macos", "linux", "windows")
        for key in ("name", "version", "platform", "family"):
            assert host["os"][key]
        assert d["agent"]["type"] == "endpoint" and d["agent"]["id"] and d["agent"]["version"]
        assert d["ecs"]["version"]
        assert d["user"]["name"] and d["user"]["id"]
        proc = d["process"]
        assert proc["entity_id"] and proc["name"] and proc["executable"]
        assert isinstance(proc["pid"], int)
        if kind == "process":
            assert isinstance(proc["args"], list) and proc["args"]
            assert proc["command_line"] == " ".join(proc["args"])
            assert proc["working_directory"]
            assert event["type"][0] in ("start", "end")
            assert event["action"] in ("exec", "fork", "end")
        elif kind == "file":
            assert d["file"]["path"].endswith(d["file"]["name"])
            assert event["type"][0] in ("creation", "change", "deletion")
        else:
            assert d["source"]["ip"] and isinstance(d["source"]["port"], int)
            assert d["destination"]["ip"] and isinstance(d["destination"]["port"], int)
            assert d["network"]["transport"] in ("tcp", "udp")
            assert d["network"]["direction"] in ("ingress", "egress")
            assert event["type"][0] in ("start", "end")


def test_time_order_and_range(docs: list[Doc]) -> None:
    stamps = [ts(d) for d in docs]
    assert stamps == sorted(stamps)
    assert stamps[0] >= NOW - timedelta(days=14) and stamps[-1] <= NOW
    recent = sum(1 for t in stamps if t >= NOW - timedelta(minutes=30))
    assert recent > 0.8 * len(stamps)


def test_mix_of_hosts_and_categories(demo: EventSet, docs: list[Doc]) -> None:
    oses = Counter(h.os_type for h in demo.manifest.hosts)
    assert oses["macos"] == 3 and oses["linux"] == 3  # plus a Windows host for one near miss
    categories = Counter(d["event"]["category"][0] for d in docs)
    for kind in ("process", "file", "network"):
        assert categories[kind] > 0.15 * len(docs), categories
    missing = sum(1 for d in docs if "ingested" not in d["event"])
    assert 0 < missing < 0.1 * len(docs)


def test_entity_ids_are_consistent(docs: list[Doc]) -> None:
    seen: dict[tuple[str, str], tuple[int, str, str]] = {}
    parents: list[tuple[tuple[str, str], tuple[int, str, str]]] = []
    for d in docs:
        proc = d["process"]
        key = (d["host"]["id"], proc["entity_id"])
        identity = (proc["pid"], proc["name"], proc["executable"])
        assert seen.setdefault(key, identity) == identity, key
        if "parent" in proc:
            p = proc["parent"]
            assert p["entity_id"] != proc["entity_id"]
            parents.append(
                ((d["host"]["id"], p["entity_id"]), (p["pid"], p["name"], p["executable"]))
            )
    resolved = 0
    for key, identity in parents:
        if key in seen:
            assert seen[key] == identity
            resolved += 1
        elif identity[0] == 1:  # init has no events of its own
            assert identity[1] in ("launchd", "systemd")
    assert resolved > 0.2 * len(parents)


# -- the manifest --------------------------------------------------------------------------------


def test_manifest_lists_all_rules(demo: EventSet, by_id: dict[str, Doc]) -> None:
    m = demo.manifest
    assert m.alert_counts() == dict.fromkeys(RULES, 4)
    assert sum(m.role_counts.values()) == m.documents == 2000
    for alert in m.expected_alerts:
        assert all(eid in by_id for eid in alert.event_ids)
        assert all(by_id[eid]["host"]["id"] == alert.host_id for eid in alert.event_ids)
    for near in m.near_misses:
        assert all(eid in by_id for eid in near.event_ids)


def test_manifest_json_round_trip(demo: EventSet) -> None:
    buf = io.StringIO()
    write_manifest(demo.manifest, buf)
    data = json.loads(buf.getvalue())
    assert data["format"] == "runner-demo-manifest/1"
    assert data["window"] == {
        "start": "2024-05-01T11:51:00.000Z",
        "end": "2024-05-01T12:00:00.000Z",
    }
    buf.seek(0)
    assert read_manifest(buf) == demo.manifest


def test_labels_are_optional() -> None:
    plain = list(EventSet(GeneratorConfig(now=NOW, events=500)).documents())
    assert not any("labels" in d for d in plain)
    labelled = EventSet(GeneratorConfig(now=NOW, events=500, labels=True))
    tagged = {d["event"]["id"]: d["labels"] for d in labelled.documents() if "labels" in d}
    for alert in labelled.manifest.expected_alerts:
        first = tagged[alert.event_ids[0]]
        assert first["expected_rule"] == alert.rule and first["generator_case"] == alert.case


# -- honest labels: recomputed from the documents --------------------------------------------------


def test_manifest_matches_the_rules(demo: EventSet, docs: list[Doc]) -> None:
    assert expected_alerts(docs) == manifest_alerts(demo.manifest)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_manifest_matches_the_rules_at_scale(seed: int) -> None:
    events = EventSet(
        GeneratorConfig(now=NOW, seed=seed, hosts=12, events=20_000, true_positive_ratio=0.01)
    )
    counts = events.manifest.alert_counts()
    assert counts == dict.fromkeys(RULES, 40)  # variants cycle past the hand-written ones
    assert expected_alerts(list(events.documents())) == manifest_alerts(events.manifest)


def test_no_true_positives_means_no_alerts() -> None:
    events = EventSet(GeneratorConfig(now=NOW, events=3000, true_positives=False))
    assert events.manifest.expected_alerts == ()
    assert events.manifest.near_misses  # still there
    assert expected_alerts(list(events.documents())) == {rule: set() for rule in RULES}


def test_true_positives_fall_inside_the_window(demo: EventSet, by_id: dict[str, Doc]) -> None:
    late = 0
    for alert in demo.manifest.expected_alerts:
        for eid in alert.event_ids:
            d = by_id[eid]
            when = ts(d) if alert.rule == RULE_INSTALLER else rule_time(d)
            # with a margin: a rule run up to a minute after `now` still sees them
            assert NOW - WINDOW + timedelta(minutes=1) <= when <= NOW - timedelta(minutes=1)
            late += not in_window(ts(d))
    assert late >= 2  # late arrivals: @timestamp before the window, event.ingested inside


def test_true_positives_pass_and_near_misses_fail(demo: EventSet, by_id: dict[str, Doc]) -> None:
    single = {
        RULE_EMOND: emond_query,
        RULE_HIDDEN_PLIST: hidden_plist_query,
        RULE_EXIM4: exim4_query,
    }
    for alert in demo.manifest.expected_alerts:
        if alert.rule in single:
            assert single[alert.rule](by_id[alert.event_ids[0]]), alert
        else:
            first, second = (by_id[e] for e in alert.event_ids)
            assert installer_step1(first) and installer_step2(second), alert
            assert get(second, "process.parent.entity_id") == first["process"]["entity_id"]
            assert first["host"]["id"] == second["host"]["id"]
            assert timedelta(0) < ts(second) - ts(first) <= MAXSPAN
    alerting = {eid for a in demo.manifest.expected_alerts for eid in a.event_ids}
    for near in demo.manifest.near_misses:
        assert not alerting & set(near.event_ids), near
        docs = [by_id[e] for e in near.event_ids]
        if near.rule in single:
            # either the query rejects it, or it lies outside the window
            assert (
                all(not single[near.rule](d) or not in_window(rule_time(d)) for d in docs)
                or near.case == "seen_in_history"
            ), near


NEAR_MISS_CASES = {
    RULE_EMOND: {
        "name_not_listed", "parent_emond_helper", "linux_host", "event_type_end", "outside_window",
    },
    RULE_HIDDEN_PLIST: {
        "not_hidden", "deletion", "other_directory", "backup_suffix", "outside_window",
    },
    RULE_INSTALLER: {
        "outside_maxspan", "different_host", "parent_entity_mismatch", "network_before_process",
        "parent_not_installer", "fork_action", "network_process_not_listed",
        "interpreter_not_listed", "timestamp_outside_window",
    },
    RULE_EXIM4: {
        "excluded_name", "parent_exim", "parent_case", "windows_host", "fork_action",
        "outside_window", "seen_in_history", "event_type_end",
    },
}  # fmt: skip


def test_near_misses_exist(demo: EventSet, by_id: dict[str, Doc]) -> None:
    cases: dict[str, set[str]] = defaultdict(set)
    for near in demo.manifest.near_misses:
        cases[near.rule].add(near.case)
    assert dict(cases) == NEAR_MISS_CASES
    # the mixed-case true positives that `:` must accept
    names = {by_id[a.event_ids[0]]["process"]["name"] for a in demo.manifest.alerts_for(RULE_EMOND)}
    assert "Python" in names
    assert any(
        by_id[a.event_ids[0]]["process"]["name"] == "SSHD"
        for a in demo.manifest.alerts_for(RULE_EXIM4)
    )


def test_exim4_history_lies_before_the_window(demo: EventSet, by_id: dict[str, Doc]) -> None:
    history = demo.manifest.history
    assert len(history) >= 5
    for entry in history:
        assert entry.rule == RULE_EXIM4 and len(entry.event_ids) >= 2
        for eid in entry.event_ids:
            d = by_id[eid]
            assert exim4_query(d) and d["process"]["executable"] == entry.term
            assert NOW - HISTORY < rule_time(d) < NOW - WINDOW
    terms = {h.term for h in history}
    seen = [n for n in demo.manifest.near_misses if n.case == "seen_in_history"]
    assert seen
    for near in seen:
        d = by_id[near.event_ids[0]]
        assert exim4_query(d) and in_window(rule_time(d))
        assert d["process"]["executable"] in terms
    assert not terms & {a.new_term for a in demo.manifest.alerts_for(RULE_EXIM4)}


# -- configuration -------------------------------------------------------------------------------


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        GeneratorConfig(now=datetime(2024, 5, 1, 12, 0))
    with pytest.raises(ValueError, match="hosts"):
        GeneratorConfig(now=NOW, hosts=1)
    with pytest.raises(ValueError, match="too small"):
        EventSet(GeneratorConfig(now=NOW, events=20))


def test_pure_noise_can_be_tiny() -> None:
    config = GeneratorConfig(now=NOW, events=5, true_positives=False, near_misses=False)
    events = EventSet(config)
    assert len(list(events.documents())) == 5
    assert events.manifest.role_counts["benign"] == 5


def test_hundred_thousand_events(tmp_path: Path) -> None:
    events = EventSet(GeneratorConfig(now=NOW, hosts=50, events=100_000, true_positive_ratio=0.001))
    path = tmp_path / "bench.ndjson"
    with path.open("wb") as fh:
        assert events.write_ndjson(fh) == 100_000
    with path.open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == 100_000
    counts = events.manifest.alert_counts()
    assert counts == dict.fromkeys(RULES, 20)
    assert events.manifest.role_counts["true_positive"] == 100  # 0.1% of the documents


# -- the command-line script --------------------------------------------------------------------


def _script() -> Any:
    path = Path(__file__).resolve().parents[1] / "scripts" / "generate_events.py"
    spec = importlib.util.spec_from_file_location("generate_events", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no side effects on import
    return module


def test_script_writes_events_and_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, manifest = tmp_path / "e.ndjson", tmp_path / "m.json"
    argv = ["--now", "2024-05-01T12:00:00Z", "--events", "1500", "--seed", "7"]
    assert _script().main([*argv, "--output", str(out), "--manifest", str(manifest)]) == 0
    assert "1500 events" in capsys.readouterr().err
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    expected = EventSet(GeneratorConfig(now=NOW, events=1500, seed=7))
    assert lines == lines_of(expected)
    with manifest.open(encoding="utf-8") as fh:
        assert read_manifest(fh) == expected.manifest


def test_script_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _script().main(["--events", "10"])
    assert "too small" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _script().main(["--now", "yesterday"])
