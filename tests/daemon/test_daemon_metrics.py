"""Prometheus text exposition and the loopback HTTP server."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from runner.daemon.metrics import Metrics, MetricsServer, format_labels, format_value
from runner.execution.model import ExecutionRecord

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def record(status: str = "succeeded", **fields: object) -> ExecutionRecord:
    values: dict[str, object] = {
        "execution_id": "x", "rule_id": "r1", "rule_name": 'Say "hi"\\now',
        "started_at": NOW, "ended_at": NOW + timedelta(seconds=0.3),
        "window_start": NOW - timedelta(minutes=9), "window_end": NOW, "status": status,
    }  # fmt: skip
    values.update(fields)
    return ExecutionRecord(**values)  # type: ignore[arg-type]


def test_observe_and_render() -> None:
    metrics = Metrics()
    metrics.observe(record(alerts_created=3, duplicates=1))
    metrics.observe(record(status="failed"))
    metrics.observe(record(status="failed", gap_seconds=600.0))
    metrics.set("runner_rules_scheduled", 4)
    text = metrics.render()
    labels = 'rule_id="r1",rule_name="Say \\"hi\\"\\\\now"'
    assert f'runner_executions_total{{{labels},status="succeeded"}} 1\n' in text
    assert f'runner_executions_total{{{labels},status="failed"}} 2\n' in text
    assert f"runner_alerts_created_total{{{labels}}} 3\n" in text
    assert f"runner_duplicates_total{{{labels}}} 1\n" in text
    assert f"runner_gap_seconds_total{{{labels}}} 600\n" in text
    ended = format_value((NOW + timedelta(seconds=0.3)).timestamp())
    assert f"runner_last_success_timestamp_seconds{{{labels}}} {ended}\n" in text
    # Two windows timed (the gap report is not a search): both in the 0.5s bucket.
    assert f'runner_execution_duration_seconds_bucket{{{labels},le="0.25"}} 0\n' in text
    assert f'runner_execution_duration_seconds_bucket{{{labels},le="0.5"}} 2\n' in text
    assert f'runner_execution_duration_seconds_bucket{{{labels},le="+Inf"}} 2\n' in text
    assert f"runner_execution_duration_seconds_count{{{labels}}} 2\n" in text
    assert "runner_rules_scheduled 4\n" in text
    assert "# TYPE runner_execution_duration_seconds histogram" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


def test_formatting_helpers() -> None:
    assert format_labels(()) == ""
    assert format_labels((("a", "x\ny"),)) == '{a="x\\ny"}'
    assert format_value(3.0) == "3" and format_value(0.25) == "0.25"


def test_server_answers_on_loopback_only_at_metrics() -> None:
    metrics = Metrics()
    metrics.set("runner_rules_scheduled", 2)
    server = MetricsServer(metrics, port=0)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "runner_rules_scheduled 2" in answer.read().decode()
        with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
            assert answer.read() == b"ok\n"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "/other", timeout=5)
        assert missing.value.code == 404
    finally:
        server.stop()


def test_the_daemon_s_name_labels_every_series_histograms_included() -> None:
    metrics = Metrics(labels=(("daemon", "soc-1"),))
    metrics.observe(record(alerts_created=2))
    metrics.set("runner_rules_scheduled", 3)
    metrics.max("runner_lease_unowned_seconds_max", 4.5)
    metrics.max("runner_lease_unowned_seconds_max", 2.0)  # a maximum: the smaller one is kept out
    samples = [line for line in metrics.render().splitlines() if not line.startswith("#")]
    assert samples and all(
        line.startswith(line.split("{")[0] + '{daemon="soc-1"') for line in samples
    )
    assert 'runner_rules_scheduled{daemon="soc-1"} 3' in samples
    assert 'runner_lease_unowned_seconds_max{daemon="soc-1"} 4.5' in samples
    assert any(line.startswith('runner_execution_duration_seconds_bucket{daemon="soc-1",rule_id=')
               for line in samples)  # fmt: skip
