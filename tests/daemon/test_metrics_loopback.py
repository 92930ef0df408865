"""The metrics endpoint listens on loopback unless ``--metrics-host`` says otherwise."""

from __future__ import annotations

import threading
from pathlib import Path

from runner.cli.main import build_parser
from runner.daemon.metrics import Metrics, MetricsServer
from runner.daemon.scheduler import Daemon, DaemonOptions
from runner.rules.loader import load_rules
from tests.daemon.fakes import MemoryBackend
from tests.helpers import write_rule


def test_the_daemon_serves_metrics_on_loopback_by_default(tmp_path: Path) -> None:
    write_rule(tmp_path, "rule0")
    daemon = Daemon(backend=MemoryBackend(), load=lambda: load_rules([tmp_path]),
                    options=DaemonOptions(metrics_port=0))  # fmt: skip
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        assert daemon.wait_started(10)
        assert daemon.server is not None
        assert daemon.server.bound[0] == "127.0.0.1"
    finally:
        daemon.request_stop()
        thread.join(15)


def test_the_cli_default_is_loopback_and_another_address_must_be_asked_for() -> None:
    parser = build_parser()
    assert parser.parse_args(["daemon"]).metrics_host == "127.0.0.1"
    assert parser.parse_args(["daemon", "--metrics-host", "0.0.0.0"]).metrics_host == "0.0.0.0"
    server = MetricsServer(Metrics())  # the class's own default too
    server.start()
    try:
        assert server.bound[0] == "127.0.0.1"
    finally:
        server.stop()
