"""Prometheus metrics of the daemon, in the text exposition format, served on loopback.

The handful of counters, gauges and one histogram are written by hand (the format is a few
lines of text) rather than pulling in a client library; :class:`Metrics` is thread-safe
because every worker thread reports into it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from runner.execution.model import ExecutionRecord
from runner.logs import get_logger

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str


FAMILIES = (
    Family(name="runner_executions_total", kind="counter",
           help="Executed windows (and gap reports) by rule and status."),
    Family(name="runner_alerts_created_total", kind="counter", help="Alerts written, by rule."),
    Family(name="runner_duplicates_total", kind="counter",
           help="Candidate alerts dropped because they already existed, by rule."),
    Family(name="runner_execution_duration_seconds", kind="histogram",
           help="Wall time of one executed window, by rule."),
    Family(name="runner_last_success_timestamp_seconds", kind="gauge",
           help="End of the last window that did not fail (Unix time), by rule."),
    Family(name="runner_gap_seconds_total", kind="counter",
           help="Time reported as not searched (downtime beyond catch-up), by rule."),
    Family(name="runner_open_gap_seconds", kind="gauge",
           help="Time in open gaps awaiting a backfill, by rule."),
    Family(name="runner_executions_running", kind="gauge",
           help="Executions in progress within their time budget."),
    Family(name="runner_executions_abandoned_running", kind="gauge",
           help="Abandoned executions whose thread has not ended yet."),
    Family(name="runner_rules_scheduled", kind="gauge", help="Rules with a scheduled job."),
    Family(name="runner_rule_load_errors", kind="gauge",
           help="Rule files that failed to load at the last (re)load."),
    Family(name="runner_reloads_total", kind="counter", help="Rule reloads, by result."),
    Family(name="runner_notifications_total", kind="counter",
           help="Delivery attempts of notifications, by connector and result "
                "(sent, retry, failed)."),
    Family(name="runner_outbox_pending", kind="gauge",
           help="Notifications waiting in the outbox (retrying ones included)."),
    Family(name="runner_outbox_retrying", kind="gauge",
           help="Pending notifications whose last delivery attempt failed."),
    Family(name="runner_outbox_failed", kind="gauge",
           help="Notifications a receiver refused for good (see `runner notify status`)."),
    Family(name="runner_leases_owned", kind="gauge",
           help="Rules whose lease this daemon holds (it schedules them)."),
    Family(name="runner_lease_takeovers_total", kind="counter",
           help="Rules taken over from a daemon that stopped renewing its lease."),
    Family(name="runner_lease_unowned_seconds_max", kind="gauge",
           help="Longest time a rule taken over here had gone without a live owner."),
    Family(name="runner_lease_overlaps_total", kind="counter",
           help="Windows of a rule executed by two processes, by rule."),
)  # fmt: skip


class Metrics:
    """Named samples keyed by label sets; :meth:`render` produces the exposition text."""

    def __init__(self, labels: Labels = ()) -> None:
        # Put on every series: the daemon's name, so several daemons' metrics stay apart.
        self.labels = labels
        self._lock = threading.Lock()
        self._values: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._buckets: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = defaultdict(float)

    def inc(self, name: str, labels: Labels = (), amount: float = 1.0) -> None:
        with self._lock:
            series = self._values[name]
            series[labels] = series.get(labels, 0.0) + amount

    def set(self, name: str, value: float, labels: Labels = ()) -> None:
        with self._lock:
            self._values[name][labels] = value

    def max(self, name: str, value: float, labels: Labels = ()) -> None:
        with self._lock:
            series = self._values[name]
            series[labels] = max(series.get(labels, value), value)

    def observe_duration(self, labels: Labels, seconds: float) -> None:
        with self._lock:
            counts = self._buckets.setdefault(labels, [0] * (len(DURATION_BUCKETS) + 1))
            for position, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    counts[position] += 1
            counts[-1] += 1  # +Inf, also the count
            self._sums[labels] += seconds

    def observe(self, record: ExecutionRecord) -> None:
        """Account for one execution record."""
        rule = rule_labels(record.rule_id, record.rule_name)
        self.inc("runner_executions_total", (*rule, ("status", record.status)))
        if record.alerts_created:
            self.inc("runner_alerts_created_total", rule, record.alerts_created)
        if record.duplicates:
            self.inc("runner_duplicates_total", rule, record.duplicates)
        if record.gap_seconds:
            self.inc("runner_gap_seconds_total", rule, record.gap_seconds)
        if record.window_start is not None and record.gap_seconds is None:
            seconds = max((record.ended_at - record.started_at).total_seconds(), 0.0)
            self.observe_duration(rule, seconds)
        if record.status != "failed":
            self.set("runner_last_success_timestamp_seconds", record.ended_at.timestamp(), rule)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for family in FAMILIES:
                lines += [
                    f"# HELP {family.name} {family.help}",
                    f"# TYPE {family.name} {family.kind}",
                ]
                if family.kind == "histogram":
                    lines += self._histogram_lines(family.name)
                    continue
                for labels, value in sorted(self._values.get(family.name, {}).items()):
                    lines.append(
                        f"{family.name}{format_labels((*self.labels, *labels))} "
                        f"{format_value(value)}"
                    )
        return "\n".join(lines) + "\n"

    def _histogram_lines(self, name: str) -> Iterable[str]:
        for own, counts in sorted(self._buckets.items()):
            labels = (*self.labels, *own)
            bounds = [*(format_value(b) for b in DURATION_BUCKETS), "+Inf"]
            for bound, count in zip(bounds, counts, strict=True):
                yield f"{name}_bucket{format_labels((*labels, ('le', bound)))} {count}"
            yield f"{name}_sum{format_labels(labels)} {format_value(self._sums[own])}"
            yield f"{name}_count{format_labels(labels)} {counts[-1]}"


def rule_labels(rule_id: str, rule_name: str) -> Labels:
    return (("rule_id", rule_id), ("rule_name", rule_name))


def format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{escape(value)}"' for key, value in labels)
    return "{" + inner + "}"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class MetricsServer:
    """``GET /metrics`` (and ``/healthz``) on ``host:port``; port 0 picks a free port."""

    def __init__(self, metrics: Metrics, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        metrics = self.metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server dispatches on this name
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, kind = metrics.render().encode(), CONTENT_TYPE
                elif path == "/healthz":
                    body, kind = b"ok\n", "text/plain; charset=utf-8"
                else:
                    self.send_error(404, "try /metrics")
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes every few seconds would drown the execution log

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="metrics-http", daemon=True
        )
        self._thread.start()
        get_logger().info(
            "metrics_listening", host=self.host, port=self.port,
            url=f"http://{self.host}:{self.port}/metrics",
        )  # fmt: skip

    @property
    def bound(self) -> tuple[str, int]:
        """The address the listening socket is bound to."""
        if self._server is None:
            raise RuntimeError("the metrics server is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
