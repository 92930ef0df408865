"""Small builders shared by tests (not fixtures: plain functions are easier to read)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from runner.eql.ast import EventQuery, Literal, Query
from runner.rules.model import Rule


def make_rule(**overrides: Any) -> Rule:
    """A minimal valid EQL rule; override any field."""
    base = Rule(
        path=Path("rules/test_rule.toml"),
        rule_id="00000000-0000-0000-0000-000000000001",
        name="Test Rule",
        description="A rule for tests.",
        type="eql",
        language="eql",
        query="any where true",
        parsed=Query(body=EventQuery(category=None, condition=Literal(value=True))),
        index=("logs-*",),
        risk_score=21,
        severity="low",
        from_="now-9m",
        interval="5m",
    )
    return replace(base, **overrides)


RULE_TOML = """\
[metadata]
creation_date = "2024/01/01"
maturity = "production"

[rule]
author = ["Tester"]
description = "A test rule."
from = "now-9m"
index = ["logs-endpoint.events.process*"]
language = "eql"
license = "Apache-2.0"
name = "{name}"
risk_score = 47
rule_id = "{rule_id}"
severity = "medium"
type = "eql"
query = '''
{query}
'''
"""


def write_rule(
    folder: Path, stem: str, *, name: str = "Test", rule_id: str | None = None,
    query: str = 'process where process.name == "bash"', text: str | None = None,
) -> Path:  # fmt: skip
    path = folder / f"{stem}.toml"
    path.write_text(
        text
        if text is not None
        else RULE_TOML.format(name=name, rule_id=rule_id or f"id-{stem}", query=query)
    )
    return path


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` imported as a module (scripts are not part of the package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
