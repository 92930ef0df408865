"""Cleanup that never hides the error that caused it.

A ``finally`` that runs SQL on an aborted transaction, closes a broken connection or removes a
temporary file can raise too, and Python then reports the cleanup's error instead of the one
the user needs (DuckDB's "Current transaction is aborted" in place of the parser error that
aborted it).  Here the first error wins: a cleanup that fails while another error is on its way
is attached to that error as a note, and the remaining cleanups still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["after", "run_cleanups"]

Cleanup = Callable[[], object]


def run_cleanups(actions: tuple[Cleanup, ...], pending: BaseException | None) -> None:
    """Run every action in order.

    With ``pending`` (the error that ended the guarded work), a failing action is noted on it
    and swallowed; without, the first action's error is raised once all actions have run.
    """
    first: BaseException | None = None
    for action in actions:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - kept, noted or raised below; never lost
            if pending is not None:
                pending.add_note(f"(then, while cleaning up: {type(exc).__name__}: {exc})")
            elif first is None:
                first = exc
    if first is not None:
        raise first


@contextmanager
def after(*actions: Cleanup) -> Iterator[None]:
    """Run ``actions`` after the block, whether or not it raised; the block's error wins."""
    try:
        yield
    except BaseException as exc:
        run_cleanups(actions, exc)
        raise
    run_cleanups(actions, None)
