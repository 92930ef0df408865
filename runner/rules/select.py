"""``--rule NAME``: pick rules by file stem, rule_id, or an unambiguous name substring."""

from __future__ import annotations

import difflib
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
        stems = sorted(r.stem for r in rules)
        close = sorted(r.stem for r in rules if _similar(needle, r))[:5]
        candidates = close or (stems if len(stems) <= 20 else [])
        hint = (
            "; did you mean: " + ", ".join(candidates)
            if close
            else ("; loaded rules: " + ", ".join(candidates) if candidates else "")
        )
        raise RuleSelectionError(
            f"no rule matches {name!r} (by file name, rule_id or name){hint} "
            f"({len(rules)} rule(s) loaded; see `runner rules list`)"
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


def _similar(needle: str, rule: Rule) -> bool:
    """A likely typo of the stem, a word of it, or a word of the name (``emnod``)."""
    words = {rule.stem.lower(), *rule.stem.lower().split("_"), *rule.name.lower().split()}
    return any(difflib.SequenceMatcher(None, needle, word).ratio() >= 0.75 for word in words)
