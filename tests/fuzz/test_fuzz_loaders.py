"""Fuzzing the configuration and rule loaders (hypothesis): any TOML document loads or is
refused with errors that each name the file and the key (never a TypeError from deep inside)."""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config import SETTINGS, load_settings
from runner.errors import ConfigError
from runner.rules.loader import load_rule_file
from tests.helpers import RULE_TOML

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
_unique = itertools.count()

# Surrogates cannot be written in TOML at all: leave them out rather than write invalid files.
TEXT = st.characters(exclude_categories=("Cs",))
scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(TEXT, max_size=20),
    st.sampled_from(["", "0", "-5s", "5m", "now-9m", "http://x", "https://u:p@h:1", "eql",
                     "query", "esql", "999999999999d", "1e400", "[", "${X}"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(TEXT, min_size=1, max_size=8), inner,
                                                     max_size=3)
    ),
    max_leaves=6,
)  # fmt: skip


def _string(text: str) -> str:
    # A TOML basic string; characters beyond the BMP as themselves (JSON's surrogate pair
    # escapes are not TOML), DEL escaped (TOML refuses it raw).
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) and "e" not in repr(value) else "1.5"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(tables: dict[str, dict[str, Any]], top: dict[str, Any]) -> str:
    lines = [f"{_string(k)} = {toml_value(v)}" for k, v in top.items()]
    for name, table in tables.items():
        lines.append(f"[{_string(name)}]")
        lines += [f"{_string(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# -- configuration ---------------------------------------------------------------------------
KNOWN = [s.key for s in SETTINGS]
config_keys = st.one_of(st.sampled_from(KNOWN), st.sampled_from(KNOWN).map(lambda k: k + "x"),
                        st.text(TEXT, min_size=1, max_size=10))  # fmt: skip


@FUZZ
@given(entries=st.dictionaries(config_keys, values, max_size=6))
def test_every_config_problem_names_the_file_and_the_key(
    tmp_path: Path, entries: dict[str, Any]
) -> None:
    tables: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in entries.items():
        section, _, name = key.partition(".")
        if name:
            tables.setdefault(section, {})[name] = value
        else:
            top[key] = value
    path = tmp_path / f"runner-{next(_unique)}.toml"
    text = toml_document({k: v for k, v in tables.items() if k not in top}, top)
    path.write_text(text, encoding="utf-8")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # our writer's limit (e.g. a table and a key of one name), not the loader's
    try:
        load_settings(config_file=path, environ={})
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.source == str(path), problem
            assert problem.key and problem.key != "(file)", problem
            assert f"{path}: {problem.key}: " in str(error)


def test_a_config_file_that_is_not_toml_is_named() -> None:
    path = Path("/nonexistent-dir/runner.toml")
    try:
        load_settings(config_file=path, environ={})
    except ConfigError as error:
        assert str(path) in str(error)
    else:
        raise AssertionError("a missing explicit config file must be an error")


# -- rules -----------------------------------------------------------------------------------
BASE = tomllib.loads(RULE_TOML.format(name="Fuzz", rule_id="fuzz-1",
                                      query='process where process.name == "bash"'))  # fmt: skip
RULE_KEYS = [
    *sorted(BASE["rule"]),
    *("interval", "max_signals", "threat", "filters", "tags", "exceptions_list",
      "new_terms_fields", "threshold", "timestamp_override", "building_block_type", "enabled"),
]  # fmt: skip


@st.composite
def mutated_rules(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    document = json.loads(json.dumps(BASE))
    touched: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(RULE_KEYS))
        if draw(st.booleans()):
            document["rule"][key] = draw(values)
        else:
            document["rule"].pop(key, None)
        touched.append(key)
    return document, touched


@FUZZ
@given(case=mutated_rules())
def test_every_rule_error_names_the_file_and_the_key(
    tmp_path: Path, case: tuple[dict[str, Any], list[str]]
) -> None:
    document, _touched = case
    path = tmp_path / f"rule-{next(_unique)}.toml"
    text = toml_document({k: v for k, v in document.items() if isinstance(v, dict)}, {})
    path.write_text(text, encoding="utf-8")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    _rule, errors = load_rule_file(path)
    for error in errors:
        assert error.path == str(path), error
        assert error.key, error  # the document is valid TOML: every problem is some key's
        assert str(error).startswith(f"{path}: {error.key}"), str(error)
