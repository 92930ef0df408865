"""The embedded engine: events in a DuckDB file, searched with Elasticsearch's EQL/KQL semantics.

Public surface (everything else is an implementation module):

* :class:`Store` / :class:`StoreConfig` / :func:`register_schema` - the file and its tables;
* :func:`load_events` with :class:`LoadSummary`, :class:`LoadProblem`, :class:`LoadProgress`;
* :func:`search_eql` / :func:`search_kql` - the embedded ``_eql/search`` and KQL ``_search``;
* :mod:`runner.embedded.new_terms` - the three new-terms aggregation phases.

The names are imported on first use (PEP 562), so a process that only searches (``runner
hunt``) does not load the loader or the new-terms phases.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.embedded.ingest import LoadProblem, LoadProgress, LoadSummary, load_events
    from runner.embedded.new_terms import (
        TermPage,
        TermsScope,
        first_seen,
        oldest_documents,
        term_page,
    )
    from runner.embedded.search import search_eql, search_kql
    from runner.embedded.store import Store, StoreConfig, register_schema

_HOMES = {
    "LoadProblem": "ingest",
    "LoadProgress": "ingest",
    "LoadSummary": "ingest",
    "load_events": "ingest",
    "TermPage": "new_terms",
    "TermsScope": "new_terms",
    "first_seen": "new_terms",
    "oldest_documents": "new_terms",
    "term_page": "new_terms",
    "search_eql": "search",
    "search_kql": "search",
    "Store": "store",
    "StoreConfig": "store",
    "register_schema": "store",
}

__all__ = [
    "LoadProblem",
    "LoadProgress",
    "LoadSummary",
    "Store",
    "StoreConfig",
    "TermPage",
    "TermsScope",
    "first_seen",
    "load_events",
    "oldest_documents",
    "register_schema",
    "search_eql",
    "search_kql",
    "term_page",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
