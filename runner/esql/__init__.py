"""ES|QL: parser, typed syntax tree, and the facts a rule type needs about a query."""

from runner.esql.parser import parse_esql

__all__ = ["parse_esql"]
