"""Rule types, one module each, behind :class:`~runner.ruletypes.base.RuleKind`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.rules.model import Rule

if TYPE_CHECKING:
    from runner.ruletypes.base import RuleKind

__all__ = ["kind_of"]


def kind_of(rule: Rule) -> RuleKind:
    """The implementation of ``rule.type`` (imported on first use: no import cycles)."""
    from runner.ruletypes import classic, esql, indicator_match, machine_learning, threshold

    kinds: dict[str, RuleKind] = {
        "eql": classic.EQL,
        "query": classic.QUERY,
        "new_terms": classic.NEW_TERMS,
        "esql": esql.ESQL,
        "threshold": threshold.THRESHOLD,
        "threat_match": indicator_match.INDICATOR_MATCH,
        "machine_learning": machine_learning.MACHINE_LEARNING,
    }
    return kinds[rule.type]
