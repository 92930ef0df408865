"""The one exception hierarchy of the runner.

Every error the CLI can meet derives from :class:`RunnerError`; each class says which exit
code it maps to, so the CLI needs no per-command error handling.  "Cannot reach the cluster"
(retry later) and "the cluster rejected the query" (a rule bug) are different classes on
purpose: an operator acts differently on each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RunnerError(Exception):
    """Root of every error the runner raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(RunnerError):
    """Bad command-line input (unknown rule name, bad time, bad option value)."""

    exit_code = 2


@dataclass(frozen=True, kw_only=True)
class ConfigProblem:
    key: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.key}: {self.message}"


class ConfigError(RunnerError):
    """The configuration (file, environment or flags) is invalid; carries every problem."""

    exit_code = 2

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        lines = [f"invalid configuration ({len(self.problems)} problem(s)):"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class QueryError(RunnerError):
    """A query (EQL or KQL) that does not parse or is not valid.

    ``line`` and ``column`` are 1-based positions inside the query text.
    """

    exit_code = 2

    def __init__(self, message: str, *, query: str, line: int, column: int) -> None:
        self.reason = message
        self.query = query
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {message}")

    def excerpt(self) -> str:
        """The offending query line with a caret under the error position."""
        lines = self.query.splitlines() or [""]
        text = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        return f"{text}\n{' ' * max(self.column - 1, 0)}^"

    def pretty(self) -> str:
        return f"{self.message}\n{self.excerpt()}"


class RuleError(RunnerError):
    """A rule file that cannot be loaded: names the file, the key and, for queries, the position."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str,
        key: str | None = None,
        query_error: QueryError | None = None,
    ) -> None:
        self.path = path
        self.key = key
        self.reason = message
        self.query_error = query_error
        where = path + (f": {key}" if key else "")
        if query_error is not None:
            where += f": line {query_error.line}, column {query_error.column}"
        super().__init__(f"{where}: {message}")

    def pretty(self) -> str:
        if self.query_error is None:
            return self.message
        return f"{self.message}\n{_indent(self.query_error.excerpt())}"


class RuleSelectionError(UsageError):
    """``--rule NAME`` matched no rule or more than one."""


class StoreError(RunnerError):
    """The embedded store could not be used."""


class StoreBusyError(StoreError):
    """Another process holds the embedded store's write lock for too long."""

    exit_code = 3


class UnsupportedOnStore(StoreError):
    """The embedded store cannot run this (a cluster can): the message says why."""


class BackendError(RunnerError):
    """A problem talking to the search backend."""


class BackendUnavailable(BackendError):
    """The cluster cannot be reached or keeps answering 429/5xx: retry later."""

    exit_code = 3


class AuthenticationFailed(BackendError):
    """Credentials were rejected (HTTP 401)."""

    exit_code = 4


class PermissionDenied(BackendError):
    """The credentials lack a privilege (HTTP 403)."""

    exit_code = 4


class QueryRejected(BackendError):
    """The backend refused a query (e.g. EQL ``verification_exception``): a rule problem."""


class IndexNotFound(BackendError):
    """A required index does not exist (and ``allow_no_indices`` does not apply)."""


class NotifyConfigError(RunnerError):
    """A connector or action file that cannot be used: names the file and the key."""

    exit_code = 2

    def __init__(self, message: str, *, path: str, key: str | None = None) -> None:
        self.path = path
        self.key = key
        self.reason = message
        super().__init__(f"{path}" + (f": {key}" if key else "") + f": {message}")


class DeliveryFailed(RunnerError):
    """A receiver did not acknowledge a notification.

    ``retryable`` failures (connection refused, timeout, 429, 5xx) are tried again with backoff;
    the others (a 4xx refusal, a rejected address) are recorded as failed and shown by
    ``runner status``.  Messages never carry secrets: connectors build them from the status,
    never from the URL or credentials.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the receiver asked for (HTTP Retry-After)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


class ExceptionListError(RunnerError):
    """An exception list (file, item or entry) that cannot be used, or a missing value list.

    Names the file, the item and the entry, so an operator finds the line to fix."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str,
        item: str | None = None,
        entry: str | None = None,
    ) -> None:
        self.path = path
        self.item = item
        self.entry = entry
        self.reason = message
        where = path
        if item is not None:
            where += f": item {item!r}"
        if entry is not None:
            where += f": {entry}"
        super().__init__(f"{where}: {message}")


class ValueListError(RunnerError):
    """A value list that cannot be imported or found (names the file and line, or the list)."""

    exit_code = 2
