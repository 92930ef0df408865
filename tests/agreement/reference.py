"""The public rules the agreement check runs: every rule file of the reference checkout,
split into stable batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner.rules.loader import load_rule_file
from runner.rules.model import Rule
from tests.agreement.cases import TYPES

FOLDERS = ("rules", "rules_building_block")


def rule_files(detection_rules: Path) -> list[Path]:
    return sorted(p for f in FOLDERS for p in (detection_rules / f).rglob("*.toml"))


def batch_files(files: Sequence[Path], batch: int, batches: int) -> list[Path]:
    """Every ``batches``-th file from ``batch`` on (spreads rule folders over the batches)."""
    return list(files[batch::batches])


def load(files: Sequence[Path]) -> tuple[list[Rule], int]:
    """The rules of the types the check covers, and how many files held other types or did
    not load."""
    rules: list[Rule] = []
    other = 0
    for path in files:
        rule, _errors = load_rule_file(path)
        if isinstance(rule, Rule) and rule.type in TYPES:
            rules.append(rule)
        else:
            other += 1
    return rules, other
