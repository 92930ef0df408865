"""Every kuery query in Elastic's public detection rules parses and compiles to DSL.

Reads ``<reference>/detection-rules/{rules,rules_building_block}/**/*.toml`` (``_deprecated``
included) where ``<reference>`` is ``$RUNNER_REFERENCE_DIR`` or ``../shared/reference`` next to
the project; skipped when absent.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from runner.errors import QueryError
from runner.kql import parse_kql, to_dsl

pytestmark = pytest.mark.reference

_RULE_DIRS = ("rules", "rules_building_block")


def _reference_dir() -> Path:
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def _kuery_queries(root: Path) -> list[tuple[str, str]]:
    """(``file [key]``, query) for each kuery query: the rule query and a kuery threat_query."""
    found: list[tuple[str, str]] = []
    for folder in _RULE_DIRS:
        for path in sorted((root / folder).rglob("*.toml")):
            rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
            where = path.relative_to(root).as_posix()
            if rule.get("language") == "kuery":
                found.append((f"{where} [query]", rule.get("query", "")))
            if rule.get("threat_language") == "kuery" and "threat_query" in rule:
                found.append((f"{where} [threat_query]", rule["threat_query"]))
    return found


def test_every_reference_kuery_query_parses_and_compiles() -> None:
    root = _reference_dir() / "detection-rules"
    if not all((root / folder).is_dir() for folder in _RULE_DIRS):
        pytest.skip(f"reference rules not found under {root} (set RUNNER_REFERENCE_DIR)")
    queries = _kuery_queries(root)
    assert queries, f"no kuery rules found under {root}"

    failures: list[str] = []
    for where, text in queries:
        try:
            json.dumps(to_dsl(parse_kql(text)))
        except QueryError as exc:
            failures.append(f"{where}: {exc}\n{exc.excerpt()}")
        except Exception as exc:  # noqa: BLE001 - any crash is a failure to report
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} of {len(queries)} kuery queries failed:\n" + "\n".join(
        failures
    )
