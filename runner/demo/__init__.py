"""Realistic Elastic Defend (endpoint) event generator for demos, benchmarks and tests.

It produces ECS documents for macOS and Linux hosts (process, file and network events)
with true positives for the four seed rules among benign noise and near misses, and an
expectation manifest saying which documents must alert for which rule.  See
:mod:`runner.demo.generator`.
"""

from runner.demo.generator import EventSet, generate, read_manifest, write_manifest
from runner.demo.model import (
    INSTALLER_MAXSPAN,
    MANIFEST_FORMAT,
    NEW_TERMS_HISTORY,
    RULE_EMOND,
    RULE_EXIM4,
    RULE_HIDDEN_PLIST,
    RULE_INSTALLER,
    RULE_LOOKBACK,
    RULES,
    ExpectedAlert,
    GeneratorConfig,
    HistoryTerm,
    HostSummary,
    Manifest,
    NearMiss,
)
from runner.demo.ndjson import write_ndjson

__all__ = [
    "INSTALLER_MAXSPAN",
    "MANIFEST_FORMAT",
    "NEW_TERMS_HISTORY",
    "RULES",
    "RULE_EMOND",
    "RULE_EXIM4",
    "RULE_HIDDEN_PLIST",
    "RULE_INSTALLER",
    "RULE_LOOKBACK",
    "EventSet",
    "ExpectedAlert",
    "GeneratorConfig",
    "HistoryTerm",
    "HostSummary",
    "Manifest",
    "NearMiss",
    "generate",
    "read_manifest",
    "write_manifest",
    "write_ndjson",
]
