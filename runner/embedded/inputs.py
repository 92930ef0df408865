"""Inputs of a load: paths (plain or ``.gz``), ``-`` for stdin, or binary streams.

DuckDB reads files itself (faster than any Python loop); streams are spooled to a temporary
file first.  An input DuckDB's reader rejects (text that is not UTF-8, NUL bytes) is rewritten
line by line with its bad lines replaced, so the load goes on and reports them by number.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO, cast

from runner.cleanup import after
from runner.errors import StoreError

__all__ = ["Source", "clean_copy", "readable_file", "source_name"]

Source = str | os.PathLike[str] | IO[bytes]


def source_name(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        return "<stdin>" if text == "-" else text
    return getattr(source, "name", None) or "<stream>"


@contextmanager
def readable_file(source: Source) -> Iterator[tuple[Path, dict[int, str]]]:
    """A plain or ``.gz`` file DuckDB can read; streams are spooled to a temporary file."""
    if isinstance(source, str | os.PathLike) and os.fspath(source) != "-":
        path = Path(os.fspath(source))
        if not path.is_file():
            raise StoreError(f"{path}: no such file")
        yield path, {}
        return
    stream: IO[bytes] = sys.stdin.buffer if isinstance(source, str | os.PathLike) else source
    head = stream.read(2)
    suffix = ".ndjson.gz" if head == b"\x1f\x8b" else ".ndjson"
    fd, tmp = tempfile.mkstemp(prefix="runner-load-", suffix=suffix)
    with after(lambda: os.unlink(tmp)):
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            shutil.copyfileobj(stream, out, 1 << 20)
        yield Path(tmp), {}


def open_binary(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.GzipFile(path, "rb"))
    return path.open("rb")


def clean_copy(path: Path) -> tuple[Path, dict[int, str]]:
    """Rewrite an input DuckDB rejects (bad UTF-8, NUL bytes) with its bad lines blanked out."""
    problems: dict[int, str] = {}
    fd, tmp = tempfile.mkstemp(prefix="runner-clean-", suffix=".ndjson")
    with open_binary(path) as src, os.fdopen(fd, "wb") as out:
        for number, raw in enumerate(src, start=1):
            line = raw.rstrip(b"\r\n")
            try:
                line.decode("utf-8")
                ok = b"\x00" not in line
            except UnicodeDecodeError:
                ok = False
            if not ok:
                # Kept as a line (numbers stay right) that is certainly not JSON.
                problems[number] = "not valid UTF-8 text"
                line = b"<not UTF-8>"
            out.write(line + b"\n")
    return Path(tmp), problems
