"""Every EQL query in the reference data parses: Elastic's public rules and Elasticsearch's suite.

Reads ``<reference>/detection-rules/{rules,rules_building_block}/**/*.toml`` (``_deprecated``
included; every ``language = "eql"`` rule) and the ``[[queries]]`` of
``<reference>/es-eql-qa/*.toml``, where ``<reference>`` is ``$RUNNER_REFERENCE_DIR`` or
``../shared/reference`` next to the project.  Skipped when the data is absent.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from runner.eql import parse_eql
from runner.errors import QueryError

pytestmark = pytest.mark.reference

_RULE_DIRS = ("rules", "rules_building_block")
# Some suite files hold a bare `null` inside `join_keys` arrays, which TOML does not allow.
_JOIN_KEYS = re.compile(r"(?ms)^join_keys\s*=\s*\[.*?\]")
_BARE_NULL = re.compile(r'(?<!")\bnull\b(?!")')


def _reference_dir() -> Path:
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def _rule_queries(root: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for folder in _RULE_DIRS:
        for path in sorted((root / folder).rglob("*.toml")):
            rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
            if rule.get("language") == "eql":
                found.append((path.relative_to(root).as_posix(), rule.get("query", "")))
    return found


def _suite_queries(root: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in sorted(root.glob("*.toml")):
        text = _JOIN_KEYS.sub(
            lambda keys: _BARE_NULL.sub('"null"', keys.group()), path.read_text(encoding="utf-8")
        )
        for case in tomllib.loads(text).get("queries", []):
            found.append((f"{path.name} [{case['name']}]", case["query"]))
    return found


def _failures(queries: list[tuple[str, str]]) -> list[str]:
    failures: list[str] = []
    for where, text in queries:
        try:
            parse_eql(text)
        except QueryError as exc:
            failures.append(f"{where}: {exc}\n{exc.excerpt()}")
        except Exception as exc:  # noqa: BLE001 - any crash is a failure to report
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
    return failures


def test_every_reference_eql_rule_parses() -> None:
    root = _reference_dir() / "detection-rules"
    if not all((root / folder).is_dir() for folder in _RULE_DIRS):
        pytest.skip(f"reference rules not found under {root} (set RUNNER_REFERENCE_DIR)")
    queries = _rule_queries(root)
    assert len(queries) > 1000, f"expected 1,000+ EQL rules under {root}, found {len(queries)}"
    failures = _failures(queries)
    assert not failures, f"{len(failures)} of {len(queries)} EQL rules failed:\n" + "\n".join(
        failures
    )


def test_every_elasticsearch_suite_query_parses() -> None:
    root = _reference_dir() / "es-eql-qa"
    if not root.is_dir():
        pytest.skip(f"Elasticsearch EQL suite not found at {root} (set RUNNER_REFERENCE_DIR)")
    queries = _suite_queries(root)
    assert queries, f"no [[queries]] found under {root}"
    failures = _failures(queries)
    assert not failures, f"{len(failures)} of {len(queries)} suite queries failed:\n" + "\n".join(
        failures
    )
