"""Exception lists a long-running process reloads (the daemon, on SIGHUP or ``--watch``).

Executions ask :meth:`LiveExceptions.lists_for` each time, so a reload takes effect at the
next execution of every rule; value lists are read from the store at each execution anyway.
"""

from __future__ import annotations

import threading
from pathlib import Path

from runner.exceptions.loader import ExceptionSet, load_exceptions
from runner.exceptions.model import ExceptionList
from runner.exceptions.stage import ExceptionCatalog
from runner.logs import get_logger
from runner.rules.model import Rule


class LiveExceptions:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._catalog = ExceptionCatalog()

    def reload(self) -> ExceptionSet:
        """Load the folder again; a list whose file fails to parse is reported and dropped."""
        loaded = load_exceptions([self.directory])
        for error in loaded.errors:
            get_logger().error("exception_not_loaded", error=error.message)
        with self._lock:
            self._catalog = ExceptionCatalog.from_set(loaded)
        get_logger().info(
            "exceptions_loaded", directory=str(self.directory), lists=len(loaded.lists),
            items=len(loaded.items()), errors=len(loaded.errors),
        )  # fmt: skip
        return loaded

    def lists_for(self, rule: Rule) -> tuple[ExceptionList, ...]:
        with self._lock:
            catalog = self._catalog
        return catalog.lists_for(rule)
