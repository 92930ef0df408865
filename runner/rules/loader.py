"""Rule files (TOML, Elastic detection-rules format) -> :class:`Rule` values.

One pass over every file reports every problem of every file: a broken rule never hides the
others, and never stops the good ones from loading.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from runner.eql import parse_eql
from runner.errors import QueryError, RuleError
from runner.esql import parse_esql
from runner.kql import parse_kql
from runner.rules.model import (
    DEFAULT_FROM,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_SIGNALS,
    SUPPORTED_TYPES,
    NewTerms,
    Rule,
    RuleFilter,
    Technique,
    Threat,
    ThreatEntry,
    UnsupportedRule,
)
from runner.rules.overrides import OVERRIDE_KEYS, read_overrides
from runner.rules.type_params import (
    read_filters,
    read_machine_learning,
    read_threat_match,
    read_threshold,
)
from runner.suppression.model import (
    DURATION_UNITS,
    MAX_GROUP_BY,
    MISSING_FIELDS_STRATEGIES,
    AlertSuppression,
    Duration,
)
from runner.timeutil import TimeParseError, parse_datemath, parse_duration, utcnow

T = TypeVar("T")

# Keys of [rule] that the loader interprets; everything else is kept in Rule.extra.
_KNOWN_KEYS = frozenset(
    {
        "rule_id", "name", "description", "type", "language", "query", "index", "risk_score",
        "severity", "from", "interval", "max_signals", "timestamp_override", "timestamp_field",
        "tiebreaker_field", "event_category_override", "new_terms", "filters", "tags",
        "references", "threat", "note", "setup", "false_positives", "author", "license",
        "version", "enabled", "building_block_type", "alert_suppression", "threshold",
        "threat_index",
        "threat_query", "threat_language", "threat_filters", "threat_mapping",
        "threat_indicator_path", "items_per_search", "concurrent_searches",
        "machine_learning_job_id", "anomaly_threshold",
    }
) | OVERRIDE_KEYS  # fmt: skip
_SEVERITIES = ("low", "medium", "high", "critical")
_LANGUAGES = {"eql": "eql", "esql": "esql"}  # the others are kuery


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """Everything one load found: good rules, unsupported ones, and every error."""

    rules: tuple[Rule, ...] = ()
    unsupported: tuple[UnsupportedRule, ...] = ()
    errors: tuple[RuleError, ...] = ()
    files: tuple[Path, ...] = field(default=(), repr=False)


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Every ``*.toml`` under the given files/directories, sorted, each once."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for item in sorted(path.rglob("*.toml")):
                if item.is_file():
                    found[item] = None
        else:
            found[path] = None
    return list(found)


def load_rules(paths: Iterable[Path]) -> RuleSet:
    files = rule_files(paths)
    rules: list[Rule] = []
    unsupported: list[UnsupportedRule] = []
    errors: list[RuleError] = []
    seen_ids: dict[str, Path] = {}
    for path in files:
        loaded, problems = load_rule_file(path)
        errors.extend(problems)
        if loaded is None:
            continue
        previous = seen_ids.get(loaded.rule_id)
        if previous is not None:
            errors.append(
                RuleError(
                    f"duplicate rule_id {loaded.rule_id!r}, already used by {previous}",
                    path=str(path),
                    key="rule.rule_id",
                )
            )
            continue
        seen_ids[loaded.rule_id] = path
        if isinstance(loaded, Rule):
            rules.append(loaded)
        else:
            unsupported.append(loaded)
    return RuleSet(
        rules=tuple(rules), unsupported=tuple(unsupported), errors=tuple(errors), files=tuple(files)
    )


def load_rule_file(path: Path) -> tuple[Rule | UnsupportedRule | None, list[RuleError]]:
    """Load one file; returns the rule (None when it has errors) and all its errors."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [RuleError(f"cannot read file: {exc.strerror}", path=str(path))]
    except UnicodeDecodeError as exc:
        return None, [RuleError(f"not UTF-8 text: {exc.reason}", path=str(path))]
    except tomllib.TOMLDecodeError as exc:
        return None, [RuleError(f"invalid TOML: {exc}", path=str(path))]
    return _RuleReader(path, document).read()


class _RuleReader:
    """Reads one parsed TOML document, collecting every problem instead of stopping at one."""

    def __init__(self, path: Path, document: Mapping[str, Any]) -> None:
        self.path = path
        self.document = document
        self.errors: list[RuleError] = []

    def problem(self, key: str, message: str, query_error: QueryError | None = None) -> None:
        self.errors.append(
            RuleError(message, path=str(self.path), key=key, query_error=query_error)
        )

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        kind: type[T] | tuple[type, ...],
        *,
        prefix: str = "rule",
        required: bool = False,
        default: T | None = None,
    ) -> T | None:
        if key not in table:
            if required:
                self.problem(f"{prefix}.{key}", "required key is missing")
            return default
        value = table[key]
        # bool is an int subclass in Python; TOML keeps them apart, so do we.
        wrong_bool = isinstance(value, bool) and kind in (int, float)
        if wrong_bool or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.problem(
                f"{prefix}.{key}", f"expected {_toml_type(names)}, got {type(value).__name__}"
            )
            return default
        return cast(T, value)

    def strings(
        self, table: Mapping[str, Any], key: str, *, required: bool = False
    ) -> tuple[str, ...]:
        value = self.get(table, key, list, required=required, default=[])
        assert value is not None
        if not all(isinstance(item, str) for item in value):
            self.problem(f"rule.{key}", "expected an array of strings")
            return ()
        return tuple(value)

    def read(self) -> tuple[Rule | UnsupportedRule | None, list[RuleError]]:
        rule = self.document.get("rule")
        if not isinstance(rule, Mapping):
            self.problem("rule", "missing [rule] table")
            return None, self.errors
        metadata = self.document.get("metadata", {})
        if not isinstance(metadata, Mapping):
            self.problem("metadata", "expected a table")
            metadata = {}
        rule_id = self.get(rule, "rule_id", str, required=True)
        name = self.get(rule, "name", str, required=True)
        rule_type = self.get(rule, "type", str, required=True)
        if rule_id is None or name is None or rule_type is None:
            return None, self.errors
        if rule_type not in SUPPORTED_TYPES:
            supported = ", ".join(SUPPORTED_TYPES)
            reason = f"rule type {rule_type!r} is not supported (supported: {supported})"
            return self._unsupported(rule_id, name, rule_type, reason)
        expected_language = _LANGUAGES.get(rule_type, "kuery")
        language = self.get(rule, "language", str, default=expected_language)
        if language != expected_language:
            reason = f"{rule_type} rules in language {language!r} are not supported"
            return self._unsupported(rule_id, name, rule_type, reason)
        return self._supported(rule, metadata, rule_id, name, rule_type, expected_language)

    def _unsupported(
        self, rule_id: str, name: str, rule_type: str, reason: str
    ) -> tuple[UnsupportedRule | None, list[RuleError]]:
        if self.errors:
            return None, self.errors
        found = UnsupportedRule(
            path=self.path, rule_id=rule_id, name=name, type=rule_type, reason=reason
        )
        return found, self.errors

    def _supported(
        self,
        rule: Mapping[str, Any],
        metadata: Mapping[str, Any],
        rule_id: str,
        name: str,
        rule_type: str,
        language: str,
    ) -> tuple[Rule | None, list[RuleError]]:
        machine_learning = rule_type == "machine_learning"
        # A machine learning rule has no query: its anomalies come from the jobs.
        query = self.get(rule, "query", str, required=not machine_learning, default="")
        parsed = self._parse_query(query, language) if query is not None else None
        description = self.get(rule, "description", str, required=True, default="")
        risk_score = self.get(rule, "risk_score", int, required=True, default=0)
        if risk_score is not None and not 0 <= risk_score <= 100:
            self.problem("rule.risk_score", f"must be between 0 and 100, got {risk_score}")
        severity = self.get(rule, "severity", str, required=True, default="low")
        if severity is not None and severity not in _SEVERITIES:
            self.problem(
                "rule.severity", f"must be one of {', '.join(_SEVERITIES)}, got {severity!r}"
            )
        # An ES|QL query names its indices in FROM; the rule has no index key.
        index = self.strings(rule, "index", required=rule_type not in ("esql", "machine_learning"))
        if "index" in rule and not index and not any(e.key == "rule.index" for e in self.errors):
            self.problem("rule.index", "must name at least one index pattern")
        from_ = self.get(rule, "from", str, default=DEFAULT_FROM) or DEFAULT_FROM
        self._check(lambda: parse_datemath(from_, utcnow()), "rule.from")
        interval = self.get(rule, "interval", str, default=DEFAULT_INTERVAL) or DEFAULT_INTERVAL
        self._check(lambda: parse_duration(interval), "rule.interval")
        max_signals = self.get(rule, "max_signals", int, default=DEFAULT_MAX_SIGNALS)
        if max_signals is not None and max_signals < 1:
            self.problem("rule.max_signals", f"must be at least 1, got {max_signals}")
        new_terms = self._new_terms(rule) if rule_type == "new_terms" else None
        threshold = read_threshold(rule, self.problem) if rule_type == "threshold" else None
        threat_match = (
            read_threat_match(rule, self.problem) if rule_type == "threat_match" else None
        )
        ml = read_machine_learning(rule, self.problem) if machine_learning else None
        threat = self._threats(rule)
        filters = self._filters(rule)
        overrides = read_overrides(rule, self.problem)
        suppression = self._alert_suppression(rule)
        optional = {
            key: self.get(rule, key, str)
            for key in ("timestamp_override", "tiebreaker_field", "event_category_override",
                        "building_block_type")
        }  # fmt: skip
        timestamp_field = self.get(rule, "timestamp_field", str, default="@timestamp")
        extra = {key: value for key, value in rule.items() if key not in _KNOWN_KEYS}
        tags = self.strings(rule, "tags")
        references = self.strings(rule, "references")
        false_positives = self.strings(rule, "false_positives")
        author = self.strings(rule, "author")
        note = self.get(rule, "note", str, default="")
        setup = self.get(rule, "setup", str, default="")
        license_ = self.get(rule, "license", str, default="")
        version = self.get(rule, "version", int, default=1)
        enabled = self.get(rule, "enabled", bool, default=True)
        if self.errors or parsed is None or query is None:
            return None, self.errors
        built = Rule(
            path=self.path,
            rule_id=rule_id,
            name=name,
            description=description or "",
            type=cast(Any, rule_type),
            language=cast(Any, language),
            query=query,
            parsed=parsed,
            index=index,
            risk_score=risk_score or 0,
            severity=cast(Any, severity),
            from_=from_,
            interval=interval,
            max_signals=max_signals or DEFAULT_MAX_SIGNALS,
            timestamp_override=optional["timestamp_override"],
            timestamp_field=timestamp_field or "@timestamp",
            tiebreaker_field=optional["tiebreaker_field"],
            event_category_override=optional["event_category_override"],
            building_block_type=optional["building_block_type"],
            overrides=overrides,
            new_terms=new_terms,
            threshold=threshold,
            threat_match=threat_match,
            machine_learning=ml,
            filters=filters,
            alert_suppression=suppression,
            tags=tags,
            references=references,
            threat=threat,
            note=note or "",
            setup=setup or "",
            false_positives=false_positives,
            author=author,
            license=license_ or "",
            version=version or 1,
            enabled=True if enabled is None else enabled,
            metadata=dict(metadata),
            extra=extra,
        )
        return built, self.errors

    def _check(self, action: Callable[[], object], key: str) -> None:
        try:
            action()
        except TimeParseError as exc:
            self.problem(key, str(exc))

    def _parse_query(self, query: str, language: str) -> Any:
        try:
            if language == "esql":
                return parse_esql(query)
            return parse_eql(query) if language == "eql" else parse_kql(query)
        except QueryError as exc:
            self.problem("rule.query", f"{language} syntax error: {exc.reason}", exc)
            return None

    def _alert_suppression(self, rule: Mapping[str, Any]) -> AlertSuppression | None:
        spec = self.get(rule, "alert_suppression", dict)
        if spec is None:
            return None
        key = "rule.alert_suppression"
        group_by = spec.get("group_by")
        if (
            not isinstance(group_by, list)
            or not 1 <= len(group_by) <= MAX_GROUP_BY
            or not all(isinstance(f, str) and f for f in group_by)
        ):
            self.problem(f"{key}.group_by", f"expected an array of 1 to {MAX_GROUP_BY} field names")
            group_by = None
        strategy = spec.get("missing_fields_strategy", "suppress")
        if strategy not in MISSING_FIELDS_STRATEGIES:
            self.problem(
                f"{key}.missing_fields_strategy",
                f"expected suppress or doNotSuppress, got {strategy!r}",
            )
        duration = None
        raw = spec.get("duration")
        if raw is not None:
            value = raw.get("value") if isinstance(raw, Mapping) else None
            unit = raw.get("unit") if isinstance(raw, Mapping) else None
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self.problem(f"{key}.duration.value", "expected a whole number of at least 1")
            elif unit not in DURATION_UNITS:
                self.problem(f"{key}.duration.unit", f"expected s, m or h, got {unit!r}")
            else:
                duration = Duration(value=value, unit=str(unit))
        unknown = sorted(set(spec) - {"group_by", "missing_fields_strategy", "duration"})
        for name in unknown:
            self.problem(f"{key}.{name}", "unknown key")
        if group_by is None or strategy not in MISSING_FIELDS_STRATEGIES or unknown:
            return None
        if raw is not None and duration is None:
            return None
        return AlertSuppression(
            group_by=tuple(group_by), duration=duration, missing_fields_strategy=strategy
        )

    def _new_terms(self, rule: Mapping[str, Any]) -> NewTerms | None:
        spec = self.get(rule, "new_terms", dict, required=True)
        if spec is None:
            return None
        fields = spec.get("value")
        if (
            not isinstance(fields, list)
            or not 1 <= len(fields) <= 3
            or not all(isinstance(f, str) and f for f in fields)
        ):
            self.problem("rule.new_terms.value", "expected an array of 1 to 3 field names")
            fields = None
        history = spec.get("history_window_start")
        start: str | None = None
        if isinstance(history, list) and history and isinstance(history[0], Mapping):
            value = history[0].get("value")
            start = value if isinstance(value, str) else None
        if start is None:
            self.problem(
                "rule.new_terms.history_window_start",
                'expected [[rule.new_terms.history_window_start]] with value = "now-<N><unit>"',
            )
        else:
            self._check(
                lambda: parse_datemath(start, utcnow()), "rule.new_terms.history_window_start"
            )
            from_ = rule.get("from", DEFAULT_FROM)
            try:
                now = utcnow()
                if isinstance(from_, str) and parse_datemath(start, now) >= parse_datemath(
                    from_, now
                ):
                    self.problem(
                        "rule.new_terms.history_window_start",
                        f"history window start {start!r} must be earlier than from {from_!r}",
                    )
            except TimeParseError:
                pass  # already reported against its own key
        if fields is None or start is None:
            return None
        return NewTerms(fields=tuple(fields), history_window_start=start)

    def _threats(self, rule: Mapping[str, Any]) -> tuple[Threat, ...]:
        raw = self.get(rule, "threat", list, default=[]) or []
        threats: list[Threat] = []
        for position, item in enumerate(raw):
            key = f"rule.threat[{position}]"
            if not isinstance(item, Mapping):
                self.problem(key, "expected a table")
                continue
            tactic = self._threat_entry(item.get("tactic"), f"{key}.tactic")
            techniques: list[Technique] = []
            for t_pos, tech in enumerate(item.get("technique", []) or []):
                t_key = f"{key}.technique[{t_pos}]"
                entry = self._threat_entry(tech, t_key)
                subs = [
                    self._threat_entry(sub, f"{t_key}.subtechnique[{s_pos}]")
                    for s_pos, sub in enumerate(tech.get("subtechnique", []) or [])
                ] if isinstance(tech, Mapping) else []  # fmt: skip
                if entry is not None:
                    techniques.append(
                        Technique(entry=entry, subtechniques=tuple(s for s in subs if s))
                    )
            framework = item.get("framework", "MITRE ATT&CK")
            if tactic is not None and isinstance(framework, str):
                threats.append(
                    Threat(framework=framework, tactic=tactic, techniques=tuple(techniques))
                )
        return tuple(threats)

    def _threat_entry(self, raw: object, key: str) -> ThreatEntry | None:
        if not isinstance(raw, Mapping):
            self.problem(key, "expected a table with id, name and reference")
            return None
        values = [raw.get(name) for name in ("id", "name", "reference")]
        if not all(isinstance(v, str) for v in values):
            self.problem(key, "expected string keys id, name and reference")
            return None
        ident, name, reference = cast(list[str], values)
        return ThreatEntry(id=ident, name=name, reference=reference)

    def _filters(self, rule: Mapping[str, Any]) -> tuple[RuleFilter, ...]:
        return read_filters(rule, "filters", self.problem) or ()


def _toml_type(python_names: str) -> str:
    mapping = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
               "list": "an array", "dict": "a table"}  # fmt: skip
    return " or ".join(mapping.get(n, n) for n in python_names.split("/"))


def describe_errors(errors: Sequence[RuleError]) -> str:
    return "\n".join(error.pretty() for error in errors)
