"""Threat mapping filters and complete-match checks (Kibana's buildThreatMappingFilter and
validateCompleteThreatMatches), on plain documents."""

from __future__ import annotations

from runner.rules.model import ThreatMappingEntry
from runner.search import Hit
from runner.threatmatch.mapping import (
    event_mapping_filter,
    events_filter,
    indicators_filter,
    matched_entries,
    values_at,
)

MD5 = (ThreatMappingEntry(field="file.hash.md5", value="threat.indicator.file.hash.md5"),)
IP_PORT = (
    ThreatMappingEntry(field="source.ip", value="threat.indicator.ip"),
    ThreatMappingEntry(field="destination.port", value="threat.indicator.port"),
)
MAPPING = (MD5, IP_PORT)


def ind(doc_id: str, **indicator: object) -> Hit:
    return Hit(index="ti", id=doc_id, source={"threat": {"indicator": indicator}})


def test_values_at_reads_nested_dotted_and_arrays() -> None:
    doc = {"a": {"b.c": [1, {"x": 2}], "b": {"c": 3}}, "a.b": {"c": [4, None]}}
    assert sorted(values_at(doc, "a.b.c"), key=str) == [1, 3, 4]
    assert values_at(doc, "missing") == []


def test_indicator_page_filter_terms_and_and_clauses() -> None:
    page = [
        ind("1", file={"hash": {"md5": "aa"}}),
        ind("2", file={"hash": {"md5": ["bb", "cc"]}}),  # two values: takes no part
        ind("3", ip="10.0.0.1", port=4444),
        ind("4", ip="10.0.0.2"),  # no port: the AND block cannot match
    ]
    assert indicators_filter(MAPPING, page) == {
        "bool": {
            "should": [
                {"terms": {"file.hash.md5": ["aa"]}},
                {
                    "bool": {
                        "filter": [
                            {"bool": {"should": [{"match": {"source.ip": {"query": "10.0.0.1"}}}],
                                      "minimum_should_match": 1}},
                            {"bool": {"should": [{"match": {"destination.port": {"query": 4444}}}],
                                      "minimum_should_match": 1}},
                        ]
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }  # fmt: skip
    assert indicators_filter(MAPPING, [ind("5", file={"hash": {}})]) is None


def test_event_batch_filter_targets_indicator_fields() -> None:
    event = Hit(index="e", id="1", source={"file": {"hash": {"md5": "aa"}}})
    assert events_filter((MD5,), [event]) == {
        "bool": {
            "should": [{"terms": {"threat.indicator.file.hash.md5": ["aa"]}}],
            "minimum_should_match": 1,
        }
    }


def test_exists_filters_per_block() -> None:
    assert event_mapping_filter(MAPPING) == {
        "bool": {
            "should": [
                {"bool": {"must": [{"exists": {"field": "file.hash.md5"}}]}},
                {"bool": {"must": [{"exists": {"field": "source.ip"}},
                                   {"exists": {"field": "destination.port"}}]}},
            ]
        }
    }  # fmt: skip


def test_only_complete_blocks_match() -> None:
    event = {"source": {"ip": "10.0.0.1"}, "destination": {"port": 443}, "file": {"hash": {}}}
    partial = {"threat": {"indicator": {"ip": "10.0.0.1", "port": 4444}}}
    full = {"threat": {"indicator": {"ip": "10.0.0.1", "port": 443}}}
    assert matched_entries(MAPPING, event, partial) == []
    assert matched_entries(MAPPING, event, full) == list(IP_PORT)
    # A multi-valued event field matches when any of its values does; numbers by their text.
    event["source"] = {"ip": ["192.0.2.1", "10.0.0.1"]}
    event["destination"] = {"port": "443"}
    assert matched_entries(MAPPING, event, full) == list(IP_PORT)


def test_negated_entry_must_not_match_and_brings_no_enrichment() -> None:
    block = (
        ThreatMappingEntry(field="source.ip", value="threat.indicator.ip"),
        ThreatMappingEntry(field="host.name", value="threat.indicator.host", negate=True),
    )
    indicator = {"threat": {"indicator": {"ip": "10.0.0.1", "host": "web"}}}
    assert matched_entries((block,), {"source": {"ip": "10.0.0.1"}, "host": {"name": "db"}},
                           indicator) == [block[0]]  # fmt: skip
    assert matched_entries((block,), {"source": {"ip": "10.0.0.1"}, "host": {"name": "web"}},
                           indicator) == []  # fmt: skip
