"""LALR parsers whose tables are computed once per installation, not once per process.

Building the EQL and KQL parsers' LALR tables takes about 45 ms, a third of a quick command's
start-up budget. lark can keep the built tables in a file, keyed (inside the file) on the
grammar, the options and the lark and Python versions, and rebuilds when any of them differ
or the file cannot be read. The file lives in the user's cache directory
(``$XDG_CACHE_HOME/runner``, else ``~/.cache/runner``), readable by the user alone; where that
directory cannot be made (a read-only home under systemd), parsers are built in memory as
before.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from lark import Lark


def cached_lark(grammar: str, **options: Any) -> Lark:
    """``Lark(grammar, **options)`` with its LALR tables cached on disk when possible."""
    return Lark(grammar, cache=_cache_file(grammar) or False, **options)


def cache_dir() -> Path | None:
    try:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = root / "runner"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    return folder


def _cache_file(grammar: str) -> str | None:
    folder = cache_dir()
    if folder is None:
        return None
    # One file per grammar; lark checks the full key (options, versions) inside it.
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return str(folder / f"lark-{digest}.cache")
