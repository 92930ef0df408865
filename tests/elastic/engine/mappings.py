"""Index mappings for the engine stand-in: explicit properties, dynamic templates, and
Elasticsearch's default dynamic mapping, plus the field values and analysis queries need.

* A field is mapped when the index is created (template or request body) or the first time a
  document carries it (dynamic mapping): a ``dynamic_templates`` entry that matches wins, else
  a string becomes ``date`` (``date_detection``) or ``text`` with a ``keyword`` multi-field
  (``ignore_above: 256``), an integer ``long``, a fraction ``float``, a boolean ``boolean``.
* Data streams ``logs-*-*`` get the built-in ``logs`` template: ``logs@mappings`` (no date
  detection) and the ECS dynamic templates of ``ecs@mappings`` (strings are ``keyword``;
  ``message`` is ``match_only_text``; ``*command_line`` ``wildcard``; ``*.name`` keyword with a
  ``.text`` multi-field; ``*.ingested`` a date; ``*.ip`` an ip ...).
* ``text`` and ``match_only_text`` are analysed with the standard analyzer (Unicode word
  tokens, lower-cased); the tokenizer here approximates UAX#29 word breaks.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TEXT_TYPES = {"text", "match_only_text"}
KEYWORD_TYPES = {"keyword", "constant_keyword", "wildcard"}
NUMERIC_TYPES = {"long", "integer", "short", "byte", "double", "float", "half_float",
                 "scaled_float", "unsigned_long"}  # fmt: skip
INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}

_TOKEN = re.compile(r"\w+(?:['.]\w+)*", re.UNICODE)


def analyze(text: str) -> list[str]:
    """The standard analyzer: word tokens, lower-cased."""
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldType:
    type: str
    ignore_above: int | None = None
    index: bool = True
    value: Any = None  # constant_keyword
    nested: bool = False


_ECS_DYNAMIC: list[dict[str, Any]] = [
    {"ecs_timestamp": {"match": "@timestamp", "mapping": {"type": "date"}}},
    {"ecs_message_match_only_text": {"path_match": ["message", "*.message"],
     "unmatch_mapping_type": "object", "mapping": {"type": "match_only_text"}}},
    {"ecs_non_indexed_keyword": {"path_match": ["event.original"],
     "mapping": {"type": "keyword", "index": False, "doc_values": False}}},
    {"ecs_ip": {"path_match": ["ip", "*.ip", "*_ip"], "match_mapping_type": "string",
     "mapping": {"type": "ip"}}},
    {"ecs_wildcard": {"path_match": ["*.io.text", "*.message_id", "*registry.data.strings",
     "*url.path"], "unmatch_mapping_type": "object", "mapping": {"type": "wildcard"}}},
    {"ecs_path_match_wildcard_and_match_only_text": {"path_match": ["*.body.content",
     "*url.full", "*url.original"], "unmatch_mapping_type": "object",
     "mapping": {"type": "wildcard", "fields": {"text": {"type": "match_only_text"}}}}},
    {"ecs_match_wildcard_and_match_only_text": {"match": ["*command_line", "*stack_trace"],
     "unmatch_mapping_type": "object",
     "mapping": {"type": "wildcard", "fields": {"text": {"type": "match_only_text"}}}}},
    {"ecs_path_match_keyword_and_match_only_text": {"path_match": ["*.title", "*.executable",
     "*.name", "*.working_directory", "*.full_name", "*file.path", "*file.target_path",
     "*os.full", "*email.subject", "*vulnerability.description", "*user_agent.original"],
     "unmatch_mapping_type": "object",
     "mapping": {"type": "keyword", "fields": {"text": {"type": "match_only_text"}}}}},
    {"ecs_date": {"path_match": ["*.timestamp", "*_timestamp", "*.not_after", "*.not_before",
     "*.accessed", "created", "*.created", "*.installed", "*.creation_date", "*.ctime",
     "*.mtime", "ingested", "*.ingested", "*.start", "*.end"],
     "unmatch_mapping_type": "object", "mapping": {"type": "date"}}},
    {"ecs_path_match_float": {"path_match": ["*.score.*"], "mapping": {"type": "float"}}},
    {"all_strings_to_keywords": {"match_mapping_type": "string",
     "mapping": {"type": "keyword", "ignore_above": 1024}}},
]  # fmt: skip

# The built-in component templates a ``composed_of`` may name.
COMPONENTS: dict[str, dict[str, Any]] = {
    "logs@mappings": {"mappings": {
        "date_detection": False,
        "properties": {
            "data_stream": {"properties": {
                "type": {"type": "constant_keyword", "value": "logs"},
                "dataset": {"type": "constant_keyword"},
                "namespace": {"type": "constant_keyword"},
            }},
        },
    }},
    "ecs@mappings": {"mappings": {"dynamic_templates": _ECS_DYNAMIC}},
}  # fmt: skip

# The built-in template behind ``logs-*-*`` data streams.
LOGS_TEMPLATE: dict[str, Any] = {
    "index_patterns": ["logs-*-*"],
    "priority": 100,
    "data_stream": {},
    "composed_of": ["logs@mappings", "ecs@mappings"],
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "object"
    return "string"


_DATE_DETECT = re.compile(
    r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


@dataclass
class IndexMapping:
    """One index's field types (dotted names, multi-fields included) and dynamic rules."""

    fields: dict[str, FieldType] = field(default_factory=dict)
    dynamic: Any = True
    date_detection: bool = True
    dynamic_templates: list[dict[str, Any]] = field(default_factory=list)
    data_stream: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, mappings: Mapping[str, Any], *, data_stream: bool = False) -> IndexMapping:
        out = cls(
            dynamic=mappings.get("dynamic", True),
            date_detection=bool(mappings.get("date_detection", True)),
            dynamic_templates=list(mappings.get("dynamic_templates", [])),
            data_stream=data_stream,
            raw=dict(mappings),
        )
        out.add_properties(mappings.get("properties", {}))
        return out

    def merge(self, other: Mapping[str, Any]) -> None:
        """A later (higher priority) template's mappings over these."""
        if "dynamic" in other:
            self.dynamic = other["dynamic"]
        if "date_detection" in other:
            self.date_detection = bool(other["date_detection"])
        self.dynamic_templates = list(other.get("dynamic_templates", [])) + self.dynamic_templates
        self.add_properties(other.get("properties", {}))

    def add_properties(self, properties: Mapping[str, Any], prefix: str = "") -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            self._add(path, spec)

    def _add(self, path: str, spec: Mapping[str, Any]) -> None:
        kind = spec.get("type", "object" if "properties" in spec else "keyword")
        if kind in ("object", "nested"):
            if kind == "nested":
                self.fields[path] = FieldType(type="nested", nested=True)
            if spec.get("enabled", True) is not False:
                self.add_properties(spec.get("properties", {}), prefix=f"{path}.")
            return
        self.fields[path] = FieldType(
            type=kind,
            ignore_above=spec.get("ignore_above"),
            index=spec.get("index", True) is not False,
            value=spec.get("value"),
        )
        for sub, sub_spec in (spec.get("fields") or {}).items():
            self._add(f"{path}.{sub}", sub_spec)

    # --- dynamic mapping ---------------------------------------------------------------------

    def learn(self, doc: Mapping[str, Any]) -> None:
        """Map the fields of ``doc`` that are not mapped yet (none with ``dynamic: false``)."""
        static = self.dynamic in (False, "false", "strict", "runtime")
        for path, values in leaves(doc).items():
            known = self.fields.get(path)
            if known is not None and known.type == "constant_keyword" and known.value is None:
                # A constant_keyword without a value takes the first one indexed.
                first = next((v for v in values if v is not None), None)
                if first is not None:
                    self.fields[path] = FieldType(type="constant_keyword", value=first)
                continue
            if static or path in self.fields or self._under_disabled(path):
                continue
            sample = next((v for v in values if v is not None), None)
            if sample is None:
                continue
            spec = self._dynamic_spec(path, sample)
            self._add(path, spec)

    def _under_disabled(self, path: str) -> bool:
        return any(path.startswith(f"{k}.") for k, v in self.fields.items() if v.nested)

    def _dynamic_spec(self, path: str, sample: Any) -> dict[str, Any]:
        json_type = _json_type(sample)
        leaf = path.rsplit(".", 1)[-1]
        for entry in self.dynamic_templates:
            ((_, rule),) = entry.items()
            if _template_matches(rule, path, leaf, json_type):
                spec = dict(rule.get("mapping", {}))
                if spec.get("type") in (None, "{dynamic_type}"):
                    spec["type"] = _default_type(json_type, sample, self.date_detection)
                return spec
        kind = _default_type(json_type, sample, self.date_detection)
        if kind == "text":
            return {"type": "text", "fields": {"keyword": {"type": "keyword",
                                                           "ignore_above": 256}}}  # fmt: skip
        return {"type": kind}

    def field_type(self, name: str) -> FieldType | None:
        return self.fields.get(name)

    def matching(self, pattern: str) -> list[str]:
        """Mapped field names matching a ``*`` pattern (searchable leaf fields)."""
        return sorted(n for n, t in self.fields.items()
                      if not t.nested and fnmatch.fnmatchcase(n, pattern))  # fmt: skip

    def values(self, doc: Mapping[str, Any], name: str) -> list[Any]:
        """The indexed values of field ``name`` of ``doc`` (multi-fields read their parent)."""
        ftype = self.fields.get(name)
        if ftype is None:
            return []
        if ftype.type == "constant_keyword":
            return [ftype.value] if ftype.value is not None else []
        source_name = name
        if name not in leaves_cache(doc) and "." in name:
            parent = name.rsplit(".", 1)[0]
            if parent in self.fields and not self.fields[parent].nested:
                source_name = parent
        found = [v for v in leaves_cache(doc).get(source_name, []) if v is not None]
        if ftype.ignore_above is not None:
            found = [v for v in found if not isinstance(v, str) or len(v) <= ftype.ignore_above]
        return found


def _globs(value: Any) -> list[str]:
    return [str(v) for v in _as_list(value)] if value is not None else []


def _template_matches(rule: Mapping[str, Any], path: str, leaf: str, json_type: str) -> bool:
    def any_glob(key: str, subject: str) -> bool:
        return any(fnmatch.fnmatchcase(subject, g) for g in _globs(rule.get(key)))

    if "match_mapping_type" in rule:
        wanted = _globs(rule["match_mapping_type"])
        if "*" not in wanted and json_type not in wanted:
            return False
    if "unmatch_mapping_type" in rule and json_type in _globs(rule["unmatch_mapping_type"]):
        return False
    if "match" in rule and not any_glob("match", leaf):
        return False
    if "unmatch" in rule and any_glob("unmatch", leaf):
        return False
    if "path_match" in rule and not any_glob("path_match", path):
        return False
    return not ("path_unmatch" in rule and any_glob("path_unmatch", path))


def _default_type(json_type: str, sample: Any, date_detection: bool) -> str:
    if json_type == "string":
        return "date" if date_detection and _DATE_DETECT.match(sample) else "text"
    if json_type == "double":
        return "float"
    return json_type


# --- document values ----------------------------------------------------------------------


def leaves(doc: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Every leaf of ``doc`` by dotted path (dotted keys and nested objects alike, arrays
    flattened), as Elasticsearch indexes it."""
    out: dict[str, list[Any]] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, path)
        else:
            out.setdefault(path, []).append(value)

    walk(doc, "")
    return out


_CACHE: dict[int, tuple[Mapping[str, Any], dict[str, list[Any]]]] = {}


def leaves_cache(doc: Mapping[str, Any]) -> dict[str, list[Any]]:
    """:func:`leaves`, remembered while the same document object is evaluated."""
    hit = _CACHE.get(id(doc))
    if hit is not None and hit[0] is doc:
        return hit[1]
    if len(_CACHE) > 50_000:
        _CACHE.clear()
    found = leaves(doc)
    _CACHE[id(doc)] = (doc, found)
    return found


def iter_objects(doc: Mapping[str, Any], path: str) -> Iterator[Mapping[str, Any]]:
    """The objects under ``path`` (for ``nested`` queries)."""
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    for item in _as_list(value) if value is not None else []:
        if isinstance(item, dict):
            yield item


def parse_date_ms(value: Any) -> int | None:
    """Epoch ms of a date value (``strict_date_optional_time`` or epoch millis)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}", text):
            text += "-01-01"
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def format_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def hit_fields(mapping: IndexMapping, source: Mapping[str, Any], specs: Any) -> dict[str, Any]:
    """A hit's ``fields`` for the request's ``fields`` option: every mapped field matching a
    pattern with its indexed values as the type formats them (dates ISO, keywords strings,
    ``constant_keyword`` its value, multi-fields their parent's), and with
    ``include_unmapped`` the source values of unmapped fields."""
    out: dict[str, Any] = {}
    for spec in specs if isinstance(specs, list) else [specs]:
        pattern = spec if isinstance(spec, str) else str(spec.get("field", ""))
        unmapped = isinstance(spec, Mapping) and bool(spec.get("include_unmapped"))
        for name, ftype in mapping.fields.items():
            if ftype.nested or not fnmatch.fnmatchcase(name, pattern):
                continue
            values = [_format(ftype.type, v) for v in mapping.values(source, name)]
            values = [v for v in values if v is not None]
            if values:
                out[name] = values
        if unmapped:
            for name, values in leaves(source).items():
                if name not in mapping.fields and fnmatch.fnmatchcase(name, pattern):
                    found = [v for v in values if v is not None]
                    if found:
                        out[name] = found
    return out


def _format(kind: str, value: Any) -> Any:
    if kind in ("date", "date_nanos"):
        ms = parse_date_ms(value)
        return None if ms is None else format_date(ms)
    if kind in KEYWORD_TYPES:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)
    return value
