"""Daemon workers share one Store across threads: opening/closing must not race."""

import threading
from pathlib import Path

from runner.embedded.store import Store


def test_parallel_operations_from_threads_never_fail(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    errors: list[BaseException] = []
    results: list[int] = []

    def work() -> None:
        for _ in range(100):
            try:
                with store.connect() as con:
                    row = con.execute("SELECT count(*) FROM events").fetchone()
                    results.append(int(row[0]) if row else -1)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [0] * 400
