"""Reloading the rules directory while the daemon runs (SIGHUP, or ``--watch``).

:func:`plan_reload` compares what is scheduled with a fresh load and says what to add, remove
and reschedule.  A file that fails to load keeps its previous version running (an edit in
progress must not silently stop detection); a file that is gone stops its rule.
:class:`DirectoryWatcher` notices changes by polling file names, sizes and mtimes: cheap for
a few thousand files, and it needs no platform-specific notification API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from runner.errors import RuleError, RuleSelectionError
from runner.rules.loader import RuleSet, rule_files
from runner.rules.model import Rule
from runner.rules.select import resolve_rule
from runner.timeutil import parse_duration

MIN_INTERVAL = timedelta(seconds=1)


def effective_interval(rule: Rule, override: timedelta | None = None) -> timedelta:
    """The interval a rule is scheduled at: the override, else its own, never under 1s."""
    return max(override if override is not None else parse_duration(rule.interval), MIN_INTERVAL)


@dataclass(frozen=True, kw_only=True)
class ReloadPlan:
    """The rules to schedule after a (re)load and how they differ from the running ones."""

    rules: Mapping[str, Rule]  # rule_id -> rule, enabled and selected
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # any change, rescheduled ones included
    rescheduled: tuple[str, ...] = ()  # the interval changed
    kept: tuple[RuleError, ...] = ()  # failed to load; the previous version keeps running
    errors: tuple[RuleError, ...] = ()  # every load error (kept ones included)
    unresolved: tuple[str, ...] = ()  # --rule names that matched nothing (with the reason)
    disabled: tuple[str, ...] = ()  # selected by name, but `enabled = false`

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)


def plan_reload(
    previous: Mapping[str, Rule],
    loaded: RuleSet,
    *,
    names: Sequence[str] = (),
    interval: timedelta | None = None,
) -> ReloadPlan:
    """What to schedule given the running ``previous`` rules and a fresh ``loaded`` set."""
    candidates = {rule.rule_id: rule for rule in loaded.rules}
    loaded_paths = {str(rule.path) for rule in loaded.rules}
    previous_by_path = {str(rule.path): rule for rule in previous.values()}
    kept: list[RuleError] = []
    for error in loaded.errors:
        old = previous_by_path.get(error.path)
        if old is None or error.path in loaded_paths or old.rule_id in candidates:
            continue
        candidates[old.rule_id] = old
        kept.append(error)

    unresolved: list[str] = []
    if names:
        chosen: dict[str, Rule] = {}
        pool = list(candidates.values())
        for name in names:
            try:
                rule = resolve_rule(pool, name)
            except RuleSelectionError as exc:
                unresolved.append(str(exc))
                continue
            chosen[rule.rule_id] = rule
        candidates = chosen
    disabled = tuple(r.stem for r in candidates.values() if not r.enabled and names)
    active = {rule_id: rule for rule_id, rule in candidates.items() if rule.enabled}

    added = tuple(sorted(set(active) - set(previous)))
    removed = tuple(sorted(set(previous) - set(active)))
    both = sorted(set(active) & set(previous))
    changed = tuple(i for i in both if _differs(previous[i], active[i]))
    rescheduled = tuple(
        i
        for i in both
        if effective_interval(previous[i], interval) != effective_interval(active[i], interval)
    )
    return ReloadPlan(
        rules=active,
        added=added,
        removed=removed,
        changed=changed,
        rescheduled=rescheduled,
        kept=tuple(kept),
        errors=loaded.errors,
        unresolved=tuple(unresolved),
        disabled=disabled,
    )


def _differs(old: Rule, new: Rule) -> bool:
    # Rule equality skips the parsed query and free-form tables; the query text covers the one.
    return old != new or dict(old.extra) != dict(new.extra)


Fingerprint = frozenset[tuple[str, int, int]]


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """Name, size and mtime of every rule file under ``paths``."""
    found: set[tuple[str, int, int]] = set()
    for path in rule_files(paths):
        try:
            stat = path.stat()
        except OSError:
            continue  # removed between listing and stat: the next poll sees it gone
        found.add((str(path), stat.st_size, stat.st_mtime_ns))
    return frozenset(found)


class DirectoryWatcher:
    """``changed()`` is true once after the rule files under ``paths`` change."""

    def __init__(
        self, paths: Sequence[Path], scan: Callable[[Iterable[Path]], Fingerprint] = fingerprint
    ) -> None:
        self._paths = tuple(paths)
        self._scan = scan
        self._last = scan(self._paths)

    def changed(self) -> bool:
        current = self._scan(self._paths)
        if current == self._last:
            return False
        self._last = current
        return True
