"""``--rule NAME``: pick rules by file stem, rule_id, or an unambiguous name substring."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runner.errors import RuleSelectionError
from runner.rules.model import Rule


def resolve_rule(rules: Sequence[Rule], name: str) -> Rule:
    """Exact stem or rule_id first; else a case-insensitive substring of name or stem that
    picks exactly one rule.  Anything else is an error listing the candidates."""
    wanted = name.strip()
    exact = [r for r in rules if wanted in (r.stem, r.rule_id)]
    if len(exact) == 1:
        return exact[0]
    needle = wanted.lower()
    matches = exact or [r for r in rules if needle in r.name.lower() or needle in r.stem.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RuleSelectionError(
            f"no rule matches {name!r} (by file name, rule_id or name); "
            f"{len(rules)} rule(s) loaded — see `runner rules list`"
        )
    listing = "\n".join(f"  {r.stem}  ({r.name})" for r in sorted(matches, key=lambda r: r.stem))
    raise RuleSelectionError(
        f"{name!r} matches {len(matches)} rules; use a longer name or the file name:\n{listing}"
    )


def resolve_rules(rules: Sequence[Rule], names: Iterable[str]) -> list[Rule]:
    """Each name resolved; duplicates dropped, order kept."""
    chosen: dict[str, Rule] = {}
    for name in names:
        rule = resolve_rule(rules, name)
        chosen.setdefault(rule.rule_id, rule)
    return list(chosen.values())
