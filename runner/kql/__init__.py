"""Kibana Query Language (KQL / ``kuery``): parser and Elasticsearch DSL compiler."""

from runner.kql.dsl import to_dsl
from runner.kql.parser import parse_kql

__all__ = ["parse_kql", "to_dsl"]
