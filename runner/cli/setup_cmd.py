"""``runner setup``: create the runner's index templates and indices on the cluster."""

from __future__ import annotations

import argparse

from runner.cli.app import App, Commands
from runner.cli.output import table
from runner.errors import UsageError


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    setup = commands.add_parser(
        "setup",
        help="create the alerts, executions, run-state and gaps indices on Elasticsearch",
        parents=[parent],
    )
    setup.add_argument("--index-prefix", default="runner", metavar="PREFIX",
                       help="prefix of the run-state, executions and gaps indices "
                            "(default: runner)")  # fmt: skip
    setup.set_defaults(func=cmd_setup)


def cmd_setup(args: argparse.Namespace, app: App) -> int:
    from runner.backends.elasticsearch import ElasticsearchBackend

    settings = app.settings
    if not settings.elasticsearch.configured:
        raise UsageError(
            "runner setup needs an Elasticsearch cluster: pass --es URL, set RUNNER_ES_URL, "
            "or set [elasticsearch] hosts / cloud_id in the configuration file"
        )
    with ElasticsearchBackend(
        settings.elasticsearch,
        alerts_index=settings.alerts_index,
        index_prefix=args.index_prefix,
    ) as backend:
        version = backend.cluster_version()
        steps = backend.setup()
    where = backend.client.where
    print(f"Elasticsearch {version} at {where}" if version else f"Elasticsearch at {where}")
    table(("action", "kind", "name"), [(s.action, s.kind, s.name) for s in steps])
    created = sum(1 for s in steps if s.action != "exists")
    print(f"\n{created} created or updated, {len(steps) - created} already existed")
    return 0
