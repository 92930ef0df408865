"""Rule exceptions: exception lists loaded from TOML or Kibana's NDJSON export, turned into
the negated search filter Kibana builds, plus value-list items applied after the search."""

from runner.exceptions.loader import ExceptionSet, load_exceptions
from runner.exceptions.model import Comment, Entry, ExceptionItem, ExceptionList, ListRef
from runner.exceptions.stage import (
    AppliedExceptions,
    ExceptionCatalog,
    RuleExceptions,
    prepare,
)

__all__ = [
    "AppliedExceptions",
    "Comment",
    "Entry",
    "ExceptionCatalog",
    "ExceptionItem",
    "ExceptionList",
    "ExceptionSet",
    "ListRef",
    "RuleExceptions",
    "load_exceptions",
    "prepare",
]
