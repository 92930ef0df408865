"""The agreement figure: per rule type, rules agreeing / rules run, how many of them alerted
on both backends, and the rules not generated, counted by reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tests.agreement.run import Outcome


def figure(outcomes: Sequence[Outcome]) -> str:
    lines = [f"{'type':<10} {'agree/run':>11} {'alerted':>8} {'not generated':>14}"]
    types = sorted({o.type for o in outcomes})
    for kind in [*types, "all"]:
        mine = [o for o in outcomes if kind in ("all", o.type)]
        run = [o for o in mine if o.verdict != "not generated"]
        agree = sum(1 for o in run if o.verdict == "agree")
        alerted = sum(1 for o in run if o.verdict == "agree" and o.alerted)
        skipped = len(mine) - len(run)
        lines.append(f"{kind:<10} {f'{agree}/{len(run)}':>11} {alerted:>8} {skipped:>14}")
    reasons = Counter(o.reason for o in outcomes if o.verdict == "not generated")
    if reasons:
        lines.append("not generated, by reason:")
        lines += [f"  {n:4d}  {reason}" for reason, n in reasons.most_common()]
    silent = [o for o in outcomes if o.verdict == "agree" and not o.alerted]
    if silent:
        lines.append(f"agreeing with no alert on either backend: {len(silent)}")
    disagree = [o for o in outcomes if o.verdict == "disagree"]
    if disagree:
        lines.append("disagreeing:")
        lines += [f"  {o.path}: {o.reason}" for o in disagree]
    return "\n".join(lines)
