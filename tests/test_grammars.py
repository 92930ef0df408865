"""The parsers' LALR tables are cached on disk: built once, read back, rebuilt when unreadable,
and the parsers read from the cache parse exactly as freshly built ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_PARSE = """
import json, sys
from runner.eql import parse_eql
from runner.kql import parse_kql
from runner.errors import QueryError
out = []
for q in ['process where process.name : "a*" and process.args : ("-c", "x?")',
          'sequence by host.id [process where true] [file where file.path like~ "/tmp/*"]']:
    out.append(repr(parse_eql(q)))
out.append(repr(parse_kql('process.name:(bash or "sh") and not user.id:0')))
try:
    parse_eql('process where process.name == ')
except QueryError as exc:
    out.append(exc.pretty())
print(json.dumps(out))
"""


def _parse_in_fresh_process(cache: Path | None, tmp_path: Path) -> list[str]:
    env = dict(os.environ)
    if cache is None:
        env["HOME"] = "/nonexistent-home"
        env["XDG_CACHE_HOME"] = "/proc/not-writable"
    else:
        env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-c", _PARSE], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert done.stderr == ""
    result: list[str] = json.loads(done.stdout)
    return result


def test_tables_are_cached_once_and_parse_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = _parse_in_fresh_process(cache, tmp_path)
    files = sorted((cache / "runner").glob("lark-*.cache"))
    assert len(files) == 2  # EQL and KQL
    assert oct(os.stat(cache / "runner").st_mode & 0o777) == "0o700"
    stamps = [f.stat().st_mtime_ns for f in files]
    again = _parse_in_fresh_process(cache, tmp_path)
    assert again == built
    assert [f.stat().st_mtime_ns for f in files] == stamps  # read, not rewritten


def test_an_unreadable_cache_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = _parse_in_fresh_process(cache, tmp_path)
    for file in (cache / "runner").glob("lark-*.cache"):
        file.write_bytes(file.read_bytes()[:200])  # truncated, as by a crash mid-write
    assert _parse_in_fresh_process(cache, tmp_path) == built
    assert all(f.stat().st_size > 200 for f in (cache / "runner").glob("lark-*.cache"))


def test_no_cache_directory_still_parses(tmp_path: Path) -> None:
    assert _parse_in_fresh_process(None, tmp_path) == _parse_in_fresh_process(
        tmp_path / "cache", tmp_path
    )
