"""Documents that satisfy a :class:`~tests.agreement.formula.Formula`, and near misses.

A depth-first search picks one branch of every ``AnyOf`` and keeps the leaves it commits to,
grouped by field; a branch whose field tests no value can pass is abandoned at once.  A
solution is the committed leaves plus a value per field.  ``reverse`` tries the branches last
first, which gives a second, different match.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tests.agreement.formula import All, Formula, Leaf, NotGenerated
from tests.agreement.values import MISSING, UNSAT, Value, near_miss, solve

BUDGET = 4000  # search steps per formula


@dataclass(frozen=True, kw_only=True, slots=True)
class Solution:
    tests: Mapping[str, tuple[Leaf, ...]]  # committed leaves by field
    values: Mapping[str, Value]  # MISSING for fields left out

    def fields(self) -> dict[str, Value]:
        return {k: v for k, v in self.values.items() if v is not MISSING}


class _Search:
    def __init__(self, multi: bool, reverse: bool) -> None:
        self.multi = multi
        self.reverse = reverse
        self.steps = 0
        self.cache: dict[tuple[str, tuple[Leaf, ...]], Value] = {}

    def value(self, name: str, tests: tuple[Leaf, ...]) -> Value:
        key = (name, tests)
        if key not in self.cache:
            self.cache[key] = solve(name, tests, multi=self.multi, reverse=self.reverse)
        return self.cache[key]

    def run(
        self, goals: tuple[Formula, ...], chosen: dict[str, tuple[Leaf, ...]]
    ) -> Iterator[dict[str, tuple[Leaf, ...]]]:
        self.steps += 1
        if self.steps > BUDGET:
            return
        if not goals:
            yield chosen
            return
        goal, rest = goals[0], goals[1:]
        if isinstance(goal, Leaf):
            tests = (*chosen.get(goal.field, ()), goal)
            if self.value(goal.field, tests) is UNSAT:
                return
            yield from self.run(rest, {**chosen, goal.field: tests})
        elif isinstance(goal, All):
            yield from self.run((*goal.terms, *rest), chosen)
        else:
            terms = goal.terms[::-1] if self.reverse else goal.terms
            for term in terms:
                yield from self.run((term, *rest), chosen)


def solutions(
    formula: Formula,
    *,
    multi: bool = True,
    reverse: bool = False,
    fixed: Mapping[str, tuple[Leaf, ...]] | None = None,
) -> Iterator[Solution]:
    """Solutions of ``formula`` (on top of the ``fixed`` leaves), first found first."""
    search = _Search(multi, reverse)
    for chosen in search.run((formula,), dict(fixed or {})):
        values = {name: search.value(name, tests) for name, tests in chosen.items()}
        if any(v is UNSAT for v in values.values()):
            continue  # a fixed field no value passes
        yield Solution(tests=chosen, values=values)


def first(formula: Formula, **kwargs: object) -> Solution:
    for found in solutions(formula, **kwargs):  # type: ignore[arg-type]
        return found
    raise NotGenerated("no document satisfies the query (generator)")


def near_misses(solution: Solution, *, limit: int, multi: bool = True) -> list[dict[str, Value]]:
    """Documents that differ from ``solution`` in one committed test each (up to ``limit``,
    spread over the tests)."""
    flat = [(name, leaf) for name, tests in solution.tests.items() for leaf in tests]
    if not flat:
        return []
    step = max(1, len(flat) // limit)
    out: list[dict[str, Value]] = []
    for name, leaf in flat[::step]:
        value = near_miss(name, solution.tests[name], leaf, multi=multi)
        if value is UNSAT:
            continue
        doc = {**solution.values, name: value}
        out.append({k: v for k, v in doc.items() if v is not MISSING})
        if len(out) >= limit:
            break
    return out
