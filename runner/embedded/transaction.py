"""One explicit DuckDB transaction whose rollback never hides the error that caused it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from runner.cleanup import run_cleanups

__all__ = ["transaction"]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN`` ... ``COMMIT``; rolled back when the block raises, and its error is raised."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException as exc:
        run_cleanups((lambda: con.execute("ROLLBACK"),), exc)
        raise
    con.execute("COMMIT")
