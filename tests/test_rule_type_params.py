"""Loading threshold, indicator match and machine learning rules: shapes and errors."""

from __future__ import annotations

from pathlib import Path

from runner.rules.loader import load_rule_file, load_rules
from runner.rules.model import Cardinality, Rule, ThreatMappingEntry

HEAD = (
    '[rule]\nname = "R"\nrule_id = "r1"\ndescription = "d"\nrisk_score = 21\n'
    'severity = "low"\nindex = ["logs-*"]\n'
)


def write(tmp: Path, text: str) -> Path:
    path = tmp / "r.toml"
    path.write_text(HEAD + text)
    return path


def loaded(tmp: Path, text: str) -> Rule:
    rule, errors = load_rule_file(write(tmp, text))
    assert errors == [], [e.pretty() for e in errors]
    assert isinstance(rule, Rule)
    return rule


def error_keys(tmp: Path, text: str) -> set[str]:
    rule, errors = load_rule_file(write(tmp, text))
    assert rule is None
    return {e.key or "" for e in errors}


def test_threshold_field_string_or_array(tmp_path: Path) -> None:
    rule = loaded(
        tmp_path,
        'type = "threshold"\nlanguage = "kuery"\nquery = "event.outcome:failure"\n'
        '[rule.threshold]\nfield = "user.name"\nvalue = 25\n'
        '[[rule.threshold.cardinality]]\nfield = "source.ip"\nvalue = 5\n',
    )
    assert rule.threshold is not None
    assert rule.threshold.fields == ("user.name",)
    assert rule.threshold.value == 25
    assert rule.threshold.cardinality == (Cardinality(field="source.ip", value=5),)
    empty = loaded(
        tmp_path, 'type = "threshold"\nquery = "a:b"\n[rule.threshold]\nfield = ""\nvalue = 1\n'
    )
    assert empty.threshold is not None and empty.threshold.fields == ()


def test_threshold_errors_name_the_key(tmp_path: Path) -> None:
    assert error_keys(tmp_path, 'type = "threshold"\nquery = "a:b"\n') == {"rule.threshold"}
    keys = error_keys(
        tmp_path,
        'type = "threshold"\nquery = "a:b"\n[rule.threshold]\nfield = ["a", "b", "c", "d"]\n'
        'value = 0\n[[rule.threshold.cardinality]]\nfield = "x"\n',
    )
    assert keys == {
        "rule.threshold.field",
        "rule.threshold.value",
        "rule.threshold.cardinality[0]",
    }


THREAT = """type = "threat_match"
query = "file.hash.*:*"
threat_index = ["logs-ti_*"]
threat_query = '@timestamp >= "now-30d/d" and event.module:ti_*'
threat_indicator_path = "threat.indicator"

[[rule.threat_filters]]
[rule.threat_filters.meta]
negate = false
[rule.threat_filters.query.match_phrase]
"event.kind" = "enrichment"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "file.hash.md5"
type = "mapping"
value = "threat.indicator.file.hash.md5"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "source.ip"
type = "mapping"
value = "threat.indicator.ip"
[[rule.threat_mapping.entries]]
field = "source.port"
type = "mapping"
value = "threat.indicator.port"
"""


def test_threat_match_loads(tmp_path: Path) -> None:
    rule = loaded(tmp_path, THREAT)
    threat = rule.threat_match
    assert threat is not None
    assert threat.index == ("logs-ti_*",)
    assert threat.mapping == (
        (ThreatMappingEntry(field="file.hash.md5", value="threat.indicator.file.hash.md5"),),
        (
            ThreatMappingEntry(field="source.ip", value="threat.indicator.ip"),
            ThreatMappingEntry(field="source.port", value="threat.indicator.port"),
        ),
    )
    assert [dict(f.query) for f in threat.filters] == [
        {"match_phrase": {"event.kind": "enrichment"}}
    ]
    assert threat.indicator_path == "threat.indicator"
    assert threat.items_per_search == 9000


def test_threat_match_errors(tmp_path: Path) -> None:
    broken = (
        THREAT.replace('threat_index = ["logs-ti_*"]', "threat_index = []")
        .replace('value = "threat.indicator.ip"', "value = 3")
        .replace("@timestamp >=", "@timestamp >= >=")
    )
    assert error_keys(tmp_path, broken) == {
        "rule.threat_index",
        "rule.threat_query",
        "rule.threat_mapping[1].entries[0]",
    }


def test_machine_learning_rule_loads_and_is_cluster_only(tmp_path: Path) -> None:
    path = tmp_path / "ml.toml"
    path.write_text(
        '[rule]\nname = "ML"\nrule_id = "m1"\ndescription = "d"\nrisk_score = 21\n'
        'severity = "low"\ntype = "machine_learning"\nanomaly_threshold = 50\n'
        'machine_learning_job_id = ["job_a", "job_b"]\n'
    )
    rule_set = load_rules([path])
    assert rule_set.errors == () and rule_set.unsupported == ()
    (rule,) = rule_set.rules
    assert rule.machine_learning is not None
    assert rule.machine_learning.job_ids == ("job_a", "job_b")
    assert rule.machine_learning.anomaly_threshold == 50
    assert rule.query == "" and rule.index == ()
    assert "embedded store has no machine learning jobs" in rule.cluster_only[0]
    path.write_text(path.read_text().replace("anomaly_threshold = 50", "anomaly_threshold = 101"))
    rule, errors = load_rule_file(path)
    assert rule is None and {e.key for e in errors} == {"rule.anomaly_threshold"}
