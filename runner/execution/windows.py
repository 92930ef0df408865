"""Which time windows one execution searches (SEMANTICS §2).

The main window is ``[from(now), now]``.  When the last window searched without failure ended
earlier than the main window starts (downtime, or failed executions), the uncovered time is
searched in extra windows of the rule's own length, stepping back one interval each, oldest
first — at most :data:`MAX_CATCH_UP` of them, as Kibana.  Time still uncovered is a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from runner.execution.model import Gap, RuleState, Window
from runner.rules.model import Rule
from runner.timeutil import parse_datemath, parse_duration

MAX_CATCH_UP = 4


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowPlan:
    windows: tuple[Window, ...]  # oldest first; the main window is last
    gap: Gap | None = None


def plan_windows(rule: Rule, now: datetime, state: RuleState | None) -> WindowPlan:
    start = parse_datemath(rule.from_, now)
    length = now - start
    main = Window(start=start, end=now)
    covered_to = state.covered_to if state is not None else None
    if covered_to is None or covered_to >= start:
        return WindowPlan(windows=(main,))
    interval = parse_duration(rule.interval)
    uncovered = start - covered_to
    catch_up = min(math.ceil(uncovered / interval), MAX_CATCH_UP)
    extra = []
    for step in range(catch_up, 0, -1):
        end = now - step * interval
        extra.append(Window(start=end - length, end=end, catch_up=True))
    earliest = extra[0].start if extra else start
    gap = (
        Gap(rule_id=rule.rule_id, start=covered_to, end=earliest) if earliest > covered_to else None
    )
    return WindowPlan(windows=(*extra, main), gap=gap)
