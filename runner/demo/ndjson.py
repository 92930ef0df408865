"""Fast NDJSON output: chunked, UTF-8.

``TextIOWrapper.write`` of a chunk of a few hundred KB is markedly slower than encoding the
chunk ourselves and writing the bytes to the wrapper's binary buffer, so
:func:`chunk_writer` does that whenever the stream allows it.  (A background writer thread
was tried and measured: on CPython the GIL hand-offs cost more than the overlap gains.)
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import IO, Any, cast

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode
_BATCH = 256


def _binary_target(out: IO[str] | IO[bytes]) -> IO[bytes] | None:
    """The binary stream to write UTF-8 bytes to, or None to write ``str`` to ``out``."""
    if isinstance(out, io.TextIOBase):
        buffer = getattr(out, "buffer", None)
        if buffer is None or not out.encoding or codecs.lookup(out.encoding).name != "utf-8":
            return None
        out.flush()  # what was written before goes first
        return cast("IO[bytes]", buffer)
    if isinstance(out, io.RawIOBase | io.BufferedIOBase) or "b" in getattr(out, "mode", ""):
        return cast("IO[bytes]", out)
    return None


def chunk_writer(out: IO[str] | IO[bytes]) -> tuple[Callable[[str], object], Callable[[], None]]:
    """``(write, flush)`` for ``str`` chunks on a text or binary stream, as UTF-8.  Call
    ``flush`` when done (the stream itself is not closed)."""
    binary = _binary_target(out)
    if binary is None:
        text = cast("IO[str]", out)
        return text.write, text.flush
    return (lambda chunk: binary.write(chunk.encode())), binary.flush


def write_ndjson(docs: Iterable[Mapping[str, Any]], out: IO[str] | IO[bytes]) -> int:
    """Write any documents as compact NDJSON (UTF-8) to a text or binary stream; returns the
    number written.  For generated documents
    :meth:`runner.demo.generator.EventSet.write_ndjson` is several times faster."""
    write, flush = chunk_writer(out)
    it = iter(docs)
    count = 0
    while chunk := list(islice(it, _BATCH)):
        write("".join([_ENCODE(doc) + "\n" for doc in chunk]))
        count += len(chunk)
    flush()
    return count
