"""The long-running side of the runner: the scheduler daemon, status and backfill."""

from runner.daemon.backfill import BackfillResult, backfill_windows, run_backfill
from runner.daemon.budget import AbandonedExecutionError, Fence, FencedBackend, time_budget
from runner.daemon.metrics import Metrics, MetricsServer
from runner.daemon.reload import DirectoryWatcher, ReloadPlan, plan_reload
from runner.daemon.scheduler import Daemon, DaemonOptions
from runner.daemon.status import RuleStatus, collect_status
from runner.daemon.supervisor import Supervisor

__all__ = [
    "AbandonedExecutionError",
    "BackfillResult",
    "Daemon",
    "DaemonOptions",
    "DirectoryWatcher",
    "Fence",
    "FencedBackend",
    "Metrics",
    "MetricsServer",
    "ReloadPlan",
    "RuleStatus",
    "Supervisor",
    "backfill_windows",
    "collect_status",
    "plan_reload",
    "run_backfill",
    "time_budget",
]
