"""``runner setup``: create the runner's indices on the cluster, or its tables in the store."""

from __future__ import annotations

import argparse

from runner.cli.app import App, Commands
from runner.cli.output import table


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    setup = commands.add_parser(
        "setup",
        help="create the alerts, executions, run-state and gaps indices (or store tables)",
        parents=[parent],
    )
    setup.add_argument("--index-prefix", default=None, metavar="PREFIX",
                       help="prefix of the run-state, executions and gaps indices "
                            "(default: [elasticsearch] index_prefix, runner)")  # fmt: skip
    setup.set_defaults(func=cmd_setup)


def cmd_setup(args: argparse.Namespace, app: App) -> int:
    from runner.backends.elasticsearch import ElasticsearchBackend

    settings = app.settings
    if not settings.elasticsearch.configured:
        return _setup_store(app)
    with ElasticsearchBackend(
        settings.elasticsearch,
        alerts_index=settings.alerts_index,
        index_prefix=args.index_prefix or settings.elasticsearch.index_prefix,
    ) as backend:
        version = backend.cluster_version()
        steps = backend.setup()
    where = backend.client.where
    print(f"Elasticsearch {version} at {where}" if version else f"Elasticsearch at {where}")
    table(("action", "kind", "name"), [(s.action, s.kind, s.name) for s in steps])
    created = sum(1 for s in steps if s.action != "exists")
    print(f"\n{created} created or updated, {len(steps) - created} already existed")
    return 0


def _setup_store(app: App) -> int:
    """The embedded store creates its tables on first use; this makes that use explicit."""
    # Each store-backed module registers its tables when imported; import them all so a
    # fresh process creates every table, not only the events ones.
    import runner.backends.embedded
    import runner.lists.embedded
    import runner.notify.outbox.embedded  # noqa: F401

    store = app.store()
    existed = store.path.exists()
    with store.connect() as con:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
    state = "already existed" if existed else "created"
    print(f"embedded store {store.path} {state}; tables: {', '.join(sorted(tables))}")
    print("(no Elasticsearch configured: pass --es URL to set up a cluster instead)")
    return 0
