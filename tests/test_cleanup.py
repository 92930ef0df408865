"""The first error wins: cleanups never replace the error that ended the guarded work."""

from __future__ import annotations

import pytest

from runner.cleanup import after


def _boom(message: str) -> None:
    raise RuntimeError(message)


def test_block_error_wins_and_every_cleanup_runs() -> None:
    ran: list[str] = []
    with (
        pytest.raises(ValueError, match="the real cause") as caught,
        after(lambda: _boom("cleanup one"), lambda: ran.append("two")),
    ):
        raise ValueError("the real cause")
    assert ran == ["two"]
    assert caught.value.__notes__ == ["(then, while cleaning up: RuntimeError: cleanup one)"]


def test_cleanup_error_is_raised_when_the_block_succeeded() -> None:
    ran: list[str] = []
    with (
        pytest.raises(RuntimeError, match="first cleanup"),
        after(lambda: _boom("first cleanup"), lambda: _boom("second"), lambda: ran.append("3")),
    ):
        ran.append("block")
    assert ran == ["block", "3"]


def test_nothing_raised_when_all_is_well() -> None:
    ran: list[str] = []
    with after(lambda: ran.append("cleanup")):
        ran.append("block")
    assert ran == ["block", "cleanup"]
