"""``[rule.alert_suppression]`` as a typed value (Kibana's alert_suppression rule parameter).

```toml
[rule.alert_suppression]
group_by = ["host.name"]               # 1 to 5 fields
missing_fields_strategy = "suppress"   # or "doNotSuppress"
[rule.alert_suppression.duration]      # absent: suppression per rule execution
value = 5
unit = "m"                             # s, m or h
```
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

MissingFields = Literal["suppress", "doNotSuppress"]
MISSING_FIELDS_STRATEGIES: tuple[str, ...] = ("suppress", "doNotSuppress")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}
MAX_GROUP_BY = 5
# Kibana: with suppression, created plus suppressed alerts may reach 5 x max_signals.
MAX_SIGNALS_SUPPRESSION_MULTIPLIER = 5
SUPPRESSION_MAX_SIGNALS_WARNING = (
    "This rule reached the maximum alert limit for the rule execution. "
    "Some alerts were not created or suppressed."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Duration:
    value: int
    unit: str  # s, m or h

    def as_timedelta(self) -> timedelta:
        return timedelta(seconds=self.value * DURATION_UNITS[self.unit])

    def __str__(self) -> str:
        return f"{self.value}{self.unit}"


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertSuppression:
    group_by: tuple[str, ...]
    duration: Duration | None = None  # None: per rule execution
    missing_fields_strategy: MissingFields = "suppress"

    @property
    def per_execution(self) -> bool:
        return self.duration is None
