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
    assert types <= {"eql", "query", "new_terms"}
    unsupported = {u.type for u in rule_set.unsupported}
    assert unsupported <= {"esql", "machine_learning", "threshold", "threat_match", "query"}
    assert len(rule_set.rules) > (1000 if folder == "rules" else 100)
