"""What every command needs, built once from the global options: settings and rule loading.

Rules, the store and the backends are imported when a command first asks for them, so a
command pays only for what it uses (see ``tests/test_cli_imports.py``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.config import DEFAULT_RULES_DIR, Settings
from runner.errors import UsageError
from runner.logs import get_logger
from runner.resources import seed_rules_dir

# The subparsers object commands register on (not subscriptable at run time on 3.11).
if TYPE_CHECKING:
    from runner.backends.base import Backend
    from runner.daemon.leases import Leases
    from runner.embedded.store import Store
    from runner.exceptions.loader import ExceptionSet
    from runner.execution.executor import Executor
    from runner.lists.model import ValueListStore
    from runner.notify.planner import Planner
    from runner.notify.service import Notifications
    from runner.rules.loader import RuleSet
    from runner.rules.model import Rule

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Commands = argparse._SubParsersAction


@dataclass(kw_only=True)
class App:
    settings: Settings
    _rule_set: RuleSet | None = field(default=None, repr=False)
    _backend: Backend | None = field(default=None, repr=False)
    _exception_set: ExceptionSet | None = field(default=None, repr=False)

    @property
    def log(self) -> Any:  # structlog's bound logger is untyped
        return get_logger()

    def rules_dir(self) -> Path:
        """``--rules``/env/config when given; else ``./rules`` when present; else the seeds."""
        if self.settings.rules is not None:
            if not self.settings.rules.exists():
                raise UsageError(f"rules directory not found: {self.settings.rules}")
            return self.settings.rules
        if DEFAULT_RULES_DIR.is_dir():
            return DEFAULT_RULES_DIR
        return seed_rules_dir()

    def exceptions_dir(self) -> Path:
        """``--exceptions``/env/config when given; else ``exceptions/`` beside the rules
        folder (``./exceptions`` when the rules are the packaged seeds)."""
        if self.settings.exceptions is not None:
            return self.settings.exceptions
        rules = self.rules_dir()
        if rules.resolve() == seed_rules_dir().resolve():
            return Path("exceptions")
        return rules.resolve().parent / "exceptions"

    def exception_set(self) -> ExceptionSet:
        if self._exception_set is None:
            path = self.exceptions_dir()
            if self.settings.exceptions is not None and not path.exists():
                raise UsageError(f"exceptions directory not found: {path}")
            from runner.exceptions.loader import load_exceptions

            self._exception_set = load_exceptions([path])
            for error in self._exception_set.errors:
                self.log.warning("exception_not_loaded", error=error.message)
        return self._exception_set

    def value_lists(self) -> ValueListStore:
        """Value lists live where the alerts do: the cluster or the embedded store."""
        return self.backend()

    def existing_value_lists(self) -> ValueListStore | None:
        """For read-only commands: None when there is no store yet (never creates one)."""
        if not self.settings.elasticsearch.configured and not self.settings.store.exists():
            return None
        return self.backend()

    def executor(self, notifier: Planner | None = None) -> Executor:
        """An executor with the exception lists and value lists (and notifications) wired in."""
        from runner.exceptions.stage import ExceptionCatalog
        from runner.execution.executor import Executor

        return Executor(
            backend=self.backend(),
            exceptions=ExceptionCatalog.from_set(self.exception_set()),
            value_lists=self.value_lists(),
            notifier=notifier,
        )

    def rule_set(self) -> RuleSet:
        if self._rule_set is None:
            from runner.rules.loader import load_rules

            self._rule_set = load_rules([self.rules_dir()])
            for error in self._rule_set.errors:
                self.log.warning("rule_not_loaded", error=error.message)
        return self._rule_set

    def backend(self) -> Backend:
        """The configured backend: Elasticsearch when a cluster is configured, else the store."""
        if self._backend is None:
            if self.settings.elasticsearch.configured:
                from runner.backends.elasticsearch import ElasticsearchBackend

                self._backend = ElasticsearchBackend(
                    self.settings.elasticsearch,
                    alerts_index=self.settings.alerts_index,
                    index_prefix=self.settings.elasticsearch.index_prefix,
                )
            else:
                from runner.backends.embedded import EmbeddedBackend

                self._backend = EmbeddedBackend(self.store())
        return self._backend

    def leases(self, name: str | None = None) -> Leases:
        """Rule leases and holds for the configured backend (runner.daemon.leases)."""
        from runner.daemon.leases import default_daemon_name

        name = name or self.settings.daemon_name or default_daemon_name()
        if self.settings.elasticsearch.configured:
            from runner.backends.elasticsearch import ElasticsearchBackend
            from runner.daemon.leases_elastic import ElasticLeases

            backend = self.backend()
            assert isinstance(backend, ElasticsearchBackend)
            return ElasticLeases(
                backend.client, backend.indices.leases, name=name, ttl=self.settings.lease_ttl
            )
        from runner.daemon.leases_local import LocalLeases

        return LocalLeases(self.settings.store, name=name)

    def notifications(self, backend: Backend | None = None, metrics: Any = None) -> Notifications:
        """Connectors, actions, outbox and delivery for the configured backend."""
        from runner.notify.service import build_notifications

        return build_notifications(
            self.settings, self.rules_dir(), backend or self.backend(), metrics=metrics
        )

    def store(self) -> Store:
        """The embedded store file (for commands that only make sense on it)."""
        from runner.embedded.store import Store

        return Store(self.settings.store)

    def existing_backend(self) -> Backend:
        """The backend for read-only commands: a missing store file is an error, not created."""
        if not self.settings.elasticsearch.configured:
            self.existing_store()
        return self.backend()

    def existing_store(self) -> Store:
        """The store file for read-only commands; a missing one is an error, not created."""
        if not self.settings.store.exists():
            raise UsageError(
                f"no store at {self.settings.store}: load events first (`runner events load`, "
                "`runner demo`) or point --store / RUNNER_STORE at an existing one"
            )
        return self.store()

    def select(self, names: list[str] | None, *, all_rules: bool = False) -> list[Rule]:
        """The rules named by ``--rule`` (each resolved), or every enabled rule."""
        from runner.rules.select import resolve_rules

        rule_set = self.rule_set()
        rules = list(rule_set.rules)
        if names:
            for name in names:
                broken = [e for e in rule_set.errors if Path(e.path).stem == name]
                if broken:
                    raise UsageError(f"rule {name!r} failed to load: {broken[0].message}")
            return resolve_rules(rules, names)
        if all_rules:
            return [r for r in rules if r.enabled]
        raise UsageError("name at least one rule with --rule NAME, or use --all")
