"""Elasticsearch EQL: the typed syntax tree (:mod:`runner.eql.ast`) and its parser."""

from runner.eql.parser import parse_eql

__all__ = ["parse_eql"]
