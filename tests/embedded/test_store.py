"""The store file: opened per operation, retried while another process holds it, schemas."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runner.embedded.store import Store, StoreConfig, register_schema, registered_schemas
from runner.errors import StoreBusyError

HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the store file open for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_construction_does_no_io(tmp_path: Path) -> None:
    Store(tmp_path / "sub" / "store.duckdb")
    assert not (tmp_path / "sub").exists()


def test_file_is_released_between_operations(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    store = Store(path)
    with store.connect() as con:
        con.execute("SELECT 1")
    # Another process can open it right away: nothing keeps it.
    done = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"],
        check=False,
    )
    assert done.returncode == 0


def test_busy_store_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with Store(path).connect():  # create the file
        pass
    holder = _hold(path, 30)
    try:
        store = Store(path, config=StoreConfig(busy_timeout=0.3))
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as caught, store.connect():
            pass
        assert time.monotonic() - started >= 0.25  # it did retry for a while
        assert f"process {holder.pid}" in str(caught.value)
        assert caught.value.exit_code == 3
    finally:
        holder.kill()
        holder.wait()


def test_retries_until_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with Store(path).connect():
        pass
    holder = _hold(path, 0.5)
    try:
        store = Store(path, config=StoreConfig(busy_timeout=10))
        with store.connect() as con:
            assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    finally:
        holder.wait()


def test_registered_schemas_are_applied(tmp_path: Path) -> None:
    register_schema(
        "test_embedded_extra", "CREATE TABLE IF NOT EXISTS test_extra (id INTEGER, note VARCHAR)"
    )
    try:
        store = Store(tmp_path / "store.duckdb")
        with store.connect() as con:
            con.execute("INSERT INTO test_extra VALUES (1, 'x')")
        with store.connect() as con:  # applied again: idempotent
            assert con.execute("SELECT note FROM test_extra").fetchall() == [("x",)]
    finally:
        schemas = registered_schemas()
        assert "test_embedded_extra" in schemas
        register_schema("test_embedded_extra")  # leave it empty for other tests


def test_a_schema_is_applied_again_only_when_it_changes(tmp_path: Path) -> None:
    """Each new Store stands for a new process: the file's digests say what it already holds,
    so opening a current store runs none of the statements (a hunt writes nothing)."""
    path = tmp_path / "store.duckdb"
    register_schema(
        "test_digest",
        "CREATE TABLE IF NOT EXISTS applied (n INTEGER)",
        "INSERT INTO applied VALUES (1)",
    )
    try:
        for _ in range(3):
            with Store(path).connect():
                pass
        with Store(path).connect() as con:
            assert con.execute("SELECT n FROM applied").fetchall() == [(1,)]
            digests = dict(con.execute("SELECT name, digest FROM runner_schema").fetchall())
            assert {"events", "test_digest", "(macros)"} <= set(digests)
            # The macros are in the file.
            assert con.execute("SELECT es_long('42')").fetchone() == (42,)
        register_schema(
            "test_digest",
            "CREATE TABLE IF NOT EXISTS applied (n INTEGER)",
            "INSERT INTO applied VALUES (2)",
        )
        with Store(path).connect() as con:
            assert sorted(con.execute("SELECT n FROM applied").fetchall()) == [(1,), (2,)]
    finally:
        register_schema("test_digest")  # leave it empty for other tests


def test_connect_is_reentrant(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    with store.connect() as outer, store.connect() as inner:
        assert outer is inner


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    with pytest.raises(RuntimeError), store.transaction() as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        raise RuntimeError("boom")
    with store.connect() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "t" not in tables


def test_two_stores_at_once_in_one_process(tmp_path: Path) -> None:
    first, second = Store(tmp_path / "one.duckdb"), Store(tmp_path / "two.duckdb")
    with first.connect() as one, second.connect() as two:
        one.execute("CREATE TABLE t (x INTEGER)")
        one.execute("INSERT INTO t VALUES (1)")
        two.execute("CREATE TABLE t (x INTEGER)")
        assert one.execute("SELECT count(*) FROM t").fetchone() == (1,)
        assert two.execute("SELECT count(*) FROM t").fetchone() == (0,)
    for path in (tmp_path / "one.duckdb", tmp_path / "two.duckdb"):  # both released
        done = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"],
            check=False,
        )
        assert done.returncode == 0
