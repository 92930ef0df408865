"""Run rules over their generated events on both backends and compare the alerts.

The events of a batch of rules go into one embedded store and, through the real
``elasticsearch`` client, into the engine-backed stand-in (each rule has indices of its own,
so batches share one stand-in).  Each rule then runs one window ending at :data:`NOW` on each
backend, through the same :class:`~runner.execution.executor.Executor`; the alert ids each
backend wrote for the rule, and the executions' statuses, must be the same.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from runner.backends.base import Backend
from runner.backends.elasticsearch import ElasticsearchBackend
from runner.backends.embedded import EmbeddedBackend
from runner.config import ElasticsearchSettings
from runner.elastic.client import RetryPolicy
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.errors import RunnerError
from runner.execution.candidates import AlertStamp
from runner.execution.model import Window
from runner.rules.model import Rule
from runner.ruletypes import kind_of
from runner.timeutil import parse_datemath
from tests.agreement.cases import Event, RuleCase, build_case
from tests.agreement.formula import NotGenerated

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# A generous budget: on a loaded machine the stand-in can take seconds to answer.
RETRY = RetryPolicy(max_retries=3, budget=300.0, base=0.01, cap=0.05)

# The stand-in maps Beats and other non-data-stream indices as their templates do: ECS
# fields by the ECS dynamic templates (strings are keywords).
ECS_TEMPLATE = {
    "index_patterns": ["*agree*", "ml_*"],
    "priority": 10,
    "composed_of": ["ecs@mappings"],
}

Verdict = Literal["agree", "disagree", "not generated"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    rule: str  # file stem
    path: str
    type: str
    verdict: Verdict
    reason: str = ""
    embedded: tuple[str, ...] = ()  # alert ids, sorted
    elasticsearch: tuple[str, ...] = ()
    statuses: tuple[str, str] = ("", "")
    events: int = 0

    @property
    def alerted(self) -> bool:
        return bool(self.embedded) and bool(self.elasticsearch)


@dataclass
class Batch:
    cases: list[RuleCase] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def build_batch(rules: Sequence[Rule], prefix: str) -> Batch:
    batch = Batch()
    for n, rule in enumerate(rules):
        try:
            batch.cases.append(build_case(rule, f"agree{prefix}r{n}", NOW))
        except NotGenerated as exc:
            batch.outcomes.append(_skipped(rule, exc.reason))
    return batch


def _skipped(rule: Rule, reason: str) -> Outcome:
    return Outcome(rule=rule.stem, path=str(rule.path), type=rule.type,
                   verdict="not generated", reason=reason)  # fmt: skip


def prepare_cluster(settings: ElasticsearchSettings) -> None:
    """Once per stand-in: the runner's indices and the ECS template for Beats indices."""
    with ElasticsearchBackend(settings, retry=RETRY) as es:
        es.setup()
        es.client.request("PUT", "/_index_template/agreement-ecs", ECS_TEMPLATE)


def run_batch(
    rules: Sequence[Rule], *, settings: ElasticsearchSettings, tmp: Path, prefix: str
) -> list[Outcome]:
    """Every rule's outcome (``prefix`` keeps this batch's indices apart on a shared
    stand-in)."""
    batch = build_batch(rules, prefix)
    with ElasticsearchBackend(settings, retry=RETRY) as es:
        cases = _index(batch, es, tmp)
        embedded = EmbeddedBackend(Store(tmp / f"{prefix}.duckdb"))
        hits = [e.hit() for c in cases for e in c.events]
        summary = load_events(embedded.store, [io.BytesIO(_ndjson(hits))])
        if summary.skipped:
            raise AssertionError(f"the embedded store skipped events: {summary.problems}")
        found = [(_alerts(embedded, c), _alerts(es, c)) for c in cases]
    for case, (mine, theirs) in zip(cases, found, strict=True):
        got = (mine[0], theirs[0])
        status = (mine[1], theirs[1])
        same = got[0] == got[1] and status[0] == status[1]
        reason = "" if same else _difference(got[0], got[1], status)
        batch.outcomes.append(Outcome(
            rule=case.rule.stem, path=str(case.rule.path), type=case.rule.type,
            verdict="agree" if same else "disagree", reason=reason, embedded=got[0],
            elasticsearch=got[1], statuses=status, events=len(case.events),
        ))  # fmt: skip
    return batch.outcomes


def _ndjson(hits: Sequence[object]) -> bytes:
    return "".join(json.dumps(h) + "\n" for h in hits).encode()


def _index(batch: Batch, es: ElasticsearchBackend, tmp: Path) -> list[RuleCase]:
    """Bulk-create the events on the stand-in; a rule with an event it rejects is not run."""
    events: list[tuple[RuleCase, Event]] = [(c, e) for c in batch.cases for e in c.events]
    outcome = es.index_events(json.dumps(e.hit()) for _, e in events)
    rejected: dict[str, str] = {}
    for line, reason in outcome.failed:
        case = events[line - 1][0]
        rejected.setdefault(str(case.rule.path), f"the stand-in rejected an event: {reason}")
    kept = []
    for case in batch.cases:
        if str(case.rule.path) in rejected:
            batch.outcomes.append(_skipped(case.rule, rejected[str(case.rule.path)]))
        else:
            kept.append(case)
    return kept


def _alerts(backend: Backend, case: RuleCase) -> tuple[tuple[str, ...], str]:
    """The ids of the alerts the rule's window gives (capped as the executor caps them), and
    how the search ended."""
    rule = case.rule
    window = Window(start=parse_datemath(rule.from_, NOW), end=NOW)
    stamp = AlertStamp(created=NOW, intended=None, execution_id="agreement")
    try:
        batch = kind_of(rule).candidates(backend, rule, window, stamp, lambda found: found)
    except RunnerError as exc:
        return (), f"failed: {type(exc).__name__}: {exc}"
    chosen = batch.candidates[: rule.max_signals]
    ids = sorted(str(d["kibana.alert.uuid"]) for c in chosen for d in c.documents)
    capped = batch.more or len(batch.candidates) > rule.max_signals
    notes = [n for n in ("capped" if capped else "", batch.partial_reason or "",
                         *batch.warnings) if n]  # fmt: skip
    return tuple(ids), "; ".join(notes) or "ok"


def _difference(embedded: Sequence[str], es: Sequence[str], statuses: tuple[str, str]) -> str:
    parts = []
    if statuses[0] != statuses[1]:
        parts.append(f"status embedded {statuses[0]!r} vs elasticsearch {statuses[1]!r}")
    only_embedded = sorted(set(embedded) - set(es))
    only_es = sorted(set(es) - set(embedded))
    if only_embedded or only_es or len(embedded) != len(es):
        parts.append(
            f"alerts embedded {len(embedded)} vs elasticsearch {len(es)} "
            f"(only embedded: {only_embedded[:3]}, only elasticsearch: {only_es[:3]})"
        )
    return "; ".join(parts)
