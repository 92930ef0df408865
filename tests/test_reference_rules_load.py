"""Every rule file of Elastic's public set loads: supported ones as rules, others as unsupported."""

from pathlib import Path

import pytest

from runner.rules.loader import load_rules


@pytest.mark.reference
@pytest.mark.parametrize("folder", ["rules", "rules_building_block"])
def test_reference_rules_load_without_failures(reference: Path, folder: str) -> None:
    root = reference / "detection-rules" / folder
    if not root.is_dir():
        pytest.skip(f"{root} is not present")
    rule_set = load_rules([root])
    assert [e.message for e in rule_set.errors] == []
    types = {r.type for r in rule_set.rules}
    assert types <= {
        "eql", "query", "new_terms", "esql", "threshold", "threat_match", "machine_learning"
    }  # fmt: skip
    # Only query rules in Lucene syntax are left unsupported.
    assert {u.type for u in rule_set.unsupported} <= {"query"}
    assert len(rule_set.rules) > (1000 if folder == "rules" else 100)


@pytest.mark.reference
def test_every_threshold_threat_match_and_ml_rule_loads(reference: Path) -> None:
    root = reference / "detection-rules" / "rules"
    rule_set = load_rules([root])
    by_type: dict[str, list[str]] = {}
    for rule in rule_set.rules:
        by_type.setdefault(rule.type, []).append(rule.stem)
    texts = [(p, p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.toml"))]
    for kind in ("threshold", "threat_match", "machine_learning"):
        files = {p.stem for p, text in texts if f'\ntype = "{kind}"' in text}
        assert files and set(by_type[kind]) == files, kind
    assert all(r.threshold is not None and r.threshold.value >= 1
               for r in rule_set.rules if r.type == "threshold")  # fmt: skip
    assert all(r.threat_match is not None and r.threat_match.mapping
               for r in rule_set.rules if r.type == "threat_match")  # fmt: skip
    ml = [r for r in rule_set.rules if r.type == "machine_learning"]
    assert all(r.machine_learning is not None and r.cluster_only for r in ml)


@pytest.mark.reference
def test_every_public_esql_rule_loads_and_cluster_only_ones_say_why(reference: Path) -> None:
    rule_set = load_rules([reference / "detection-rules"])
    esql = [r for r in rule_set.rules if r.type == "esql"]
    assert len(esql) >= 200
    assert all(r.language == "esql" and r.index == () for r in esql)
    cluster_only = {r.stem: r.cluster_only for r in esql if r.cluster_only}
    # A handful send their rows to an LLM through COMPLETION: cluster only, with the reason.
    assert 1 <= len(cluster_only) < 20
    assert all("COMPLETION needs an inference endpoint" in why for why in cluster_only.values())
