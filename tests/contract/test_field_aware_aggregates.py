"""Threshold and indicator match KQL compiled with field types, on both backends.

As for query rules (tests/contract/test_field_aware_rules.py), Kibana compiles these rules'
KQL with the data view's fields loaded: a wildcard value on a ``keyword`` field is one
``wildcard`` query, so ``*S3 Browser*`` stays one pattern, where an untyped ``query_string``
would split it on the space into ``*S3`` OR ``Browser*``.  On a cluster the types come from
``_field_caps`` of the rule's indices (threshold) and of the threat indices (the indicator
match threat query); the embedded store reaches the same result from its field catalog.
Each test has near misses that only the split pattern would match.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests import both as both_backends
from tests.both import Both

# The fixtures: the embedded store, and the Elasticsearch backend on the engine stand-in.
both = both_backends.both
quiet_logs = both_backends.quiet_logs

NOW = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)

_HEAD = """[rule]
description = "d"
risk_score = 47
severity = "medium"
from = "now-9m"
interval = "5m"
"""

THRESHOLD = f"""{_HEAD}
name = "S3 Browser per host"
rule_id = "fa-threshold"
type = "threshold"
language = "kuery"
index = ["logs-aws.cloudtrail-*"]
query = "user_agent.original:*S3 Browser*"

[rule.threshold]
field = ["host.name"]
value = 1
"""

INDICATOR = f"""{_HEAD}
name = "Bad actor hashes"
rule_id = "fa-indicator"
type = "threat_match"
language = "kuery"
index = ["logs-endpoint.events.*"]
query = "file.hash.md5:*"
threat_index = ["logs-ti_*"]
threat_query = "threat.indicator.description:*bad actor*"
threat_indicator_path = "threat.indicator"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "file.hash.md5"
type = "mapping"
value = "threat.indicator.file.hash.md5"
"""


def _at(minutes_before: float) -> str:
    return (NOW - timedelta(minutes=minutes_before)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _rule(tmp: Path, text: str) -> Rule:
    path = tmp / "rule.toml"
    path.write_text(text)
    loaded = load_rules([path])
    assert not loaded.errors, [e.pretty() for e in loaded.errors]
    return loaded.rules[0]


def _hosts(both: Both, rule: Rule) -> set[str]:
    found = set()
    for alert in both.backend.list_alerts(rule_ids=[rule.rule_id]):
        for term in alert["kibana.alert.threshold_result"]["terms"]:
            found.add(term["value"])
    return found


def test_threshold_keyword_wildcard_is_one_pattern(both: Both, tmp_path: Path) -> None:
    def call(doc_id: str, host: str, agent: str) -> dict[str, Any]:
        source = {"@timestamp": _at(2), "host": {"name": host},
                  "user_agent": {"original": agent}, "event": {"action": "GetObject"}}  # fmt: skip
        return {"_index": "logs-aws.cloudtrail-default", "_id": doc_id, "_source": source}

    both.load(
        [
            call("tp", "h-match", "S3 Browser 9.5.5 https://netsdk.com/s3/"),
            call("near-1", "h-split-1", "aws-cli/2 my-S3"),  # only `*S3` matches
            call("near-2", "h-split-2", "Browser extension"),  # only `Browser*` matches
        ]
    )
    rule = _rule(tmp_path, THRESHOLD)
    (record,) = Executor(backend=both.backend).run(rule, NOW)
    assert record.status == "succeeded", record.message
    assert _hosts(both, rule) == {"h-match"}


def test_threat_query_keyword_wildcard_is_one_pattern(both: Both, tmp_path: Path) -> None:
    def indicator(doc_id: str, md5: str, description: str) -> dict[str, Any]:
        source = {"@timestamp": _at(60), "event": {"kind": "enrichment", "module": "ti_x"},
                  "threat": {"indicator": {"type": "file", "description": description,
                                           "file": {"hash": {"md5": md5}}}}}  # fmt: skip
        return {"_index": "logs-ti_x.indicators-default", "_id": doc_id, "_source": source}

    def event(doc_id: str, md5: str) -> dict[str, Any]:
        source = {"@timestamp": _at(2), "event": {"category": ["file"]},
                  "host": {"name": "ws-1"}, "file": {"hash": {"md5": md5}}}  # fmt: skip
        return {"_index": "logs-endpoint.events.file-default", "_id": doc_id, "_source": source}

    both.load(
        [
            indicator("i-match", "aa", "known bad actor infrastructure"),
            indicator("i-split-1", "bb", "very bad"),  # only `*bad` matches
            indicator("i-split-2", "cc", "actor list"),  # only `actor*` matches
            event("e-aa", "aa"),
            event("e-bb", "bb"),
            event("e-cc", "cc"),
        ]
    )
    rule = _rule(tmp_path, INDICATOR)
    (record,) = Executor(backend=both.backend).run(rule, NOW)
    assert record.status == "succeeded", record.message
    alerted = {
        a["kibana.alert.ancestors"][0]["id"]
        for a in both.backend.list_alerts(rule_ids=[rule.rule_id])
    }
    assert alerted == {"e-aa"}
