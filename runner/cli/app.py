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
    from runner.embedded.store import Store
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

    def store(self) -> Store:
        """The embedded store file (for commands that only make sense on it)."""
        from runner.embedded.store import Store

        return Store(self.settings.store)

    def existing_backend(self) -> Backend:
        """The backend for read-only commands: a missing store file is an error, not created."""
        if not self.settings.elasticsearch.configured and not self.settings.store.exists():
            raise UsageError(
                f"no store at {self.settings.store}: load events first (`runner events load`, "
                "`runner demo`) or point --store / RUNNER_STORE at an existing one"
            )
        return self.backend()

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
