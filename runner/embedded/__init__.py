"""The embedded engine: events in a DuckDB file, searched with Elasticsearch's EQL/KQL semantics.

Public surface (everything else is an implementation module):

* :class:`Store` / :class:`StoreConfig` / :func:`register_schema` - the file and its tables;
* :func:`load_events` with :class:`LoadSummary`, :class:`LoadProblem`, :class:`LoadProgress`;
* :func:`search_eql` / :func:`search_kql` - the embedded ``_eql/search`` and KQL ``_search``;
* :mod:`runner.embedded.new_terms` - the three new-terms aggregation phases.
"""

from runner.embedded.ingest import LoadProblem, LoadProgress, LoadSummary, load_events
from runner.embedded.new_terms import TermPage, TermsScope, first_seen, oldest_documents, term_page
from runner.embedded.search import search_eql, search_kql
from runner.embedded.store import Store, StoreConfig, register_schema

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
