"""``_search`` over documents already read from the store: query, sort, paging, aggregations.

* ``sort``: ``{field: {order, unmapped_type, missing}}``, ``"field"``, ``_doc`` and
  ``_shard_doc``; a multi-valued field sorts on its minimum (asc) or maximum (desc); documents
  without the field come last; ``hits[].sort`` holds dates as epoch ms and a missing value as
  Long.MAX_VALUE / Long.MIN_VALUE (numbers) or null (strings), as Elasticsearch does.
  Sorting on a ``text`` field, or on a field no index maps without ``unmapped_type``, is a 400.
* ``from`` + ``size`` may not pass ``index.max_result_window`` (10,000); ``search_after`` takes
  the previous page's last ``sort`` values.  With a point in time the implicit ``_shard_doc``
  tiebreaker is added.
* Aggregations: ``composite`` (``terms`` sources, ``after``, ``after_key``), ``terms``
  (``include`` list, count order), ``min``, ``top_hits``, and the ``bucket_selector`` pipeline
  (a comparison of ``params``); ``runtime_mappings`` of type date whose script emits the
  ``primary`` field, else the ``secondary`` one (Kibana's combined timestamp) are computed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.elastic.engine.mappings import (
    INTEGER_TYPES,
    NUMERIC_TYPES,
    TEXT_TYPES,
    FieldType,
    IndexMapping,
    format_date,
    hit_fields,
    parse_date_ms,
)
from tests.elastic.engine.query_dsl import Doc, DslError, Evaluator

MAX_RESULT_WINDOW = 10_000
LONG_MAX, LONG_MIN = 9223372036854775807, -9223372036854775808


@dataclass(frozen=True)
class Stored:
    doc: Doc
    seq_no: int
    order: int  # global write order (the _shard_doc tiebreaker)


class RuntimeMapping(IndexMapping):
    """An index's mapping plus the request's ``runtime_mappings``."""

    def __init__(self, base: IndexMapping, runtime: Mapping[str, Any]) -> None:
        super().__init__(fields=dict(base.fields))
        self.base = base
        self.runtime: dict[str, list[str]] = {}
        for name, spec in runtime.items():
            params = (spec.get("script") or {}).get("params") or {}
            if spec.get("type") != "date" or not {"primary", "secondary"} <= set(params):
                raise DslError(f"runtime field [{name}]: only a date emitting params.primary, "
                               "else params.secondary, is computed by the stand-in",
                               "illegal_argument_exception")  # fmt: skip
            self.fields[name] = FieldType(type="date")
            self.runtime[name] = [params["primary"], params["secondary"]]

    def values(self, doc: Mapping[str, Any], name: str) -> list[Any]:
        if name in self.runtime:
            for source in self.runtime[name]:
                found = [v for v in self.base.values(doc, source) if parse_date_ms(v) is not None]
                if found:
                    return [parse_date_ms(found[0])]
            return []
        return self.base.values(doc, name)


class Search:
    def __init__(self, docs: Sequence[Stored], mappings: Mapping[str, IndexMapping],
                 body: Mapping[str, Any], now: datetime, *, pit: bool = False) -> None:  # fmt: skip
        self.body = body
        self.pit = pit
        runtime = body.get("runtime_mappings") or {}
        self.mappings = {i: RuntimeMapping(m, runtime) if runtime else m
                         for i, m in mappings.items()}  # fmt: skip
        self.evaluators = {i: Evaluator(m, now) for i, m in self.mappings.items()}
        query = body.get("query", {"match_all": {}})
        self.matched = [s for s in docs if self.evaluators[s.doc.index].matches(query, s.doc)]

    # --- hits ------------------------------------------------------------------------------
    def response(self, window: int = MAX_RESULT_WINDOW) -> dict[str, Any]:
        size = int(self.body.get("size", 10))
        start = int(self.body.get("from", 0))
        if start + size > window:
            raise DslError(
                f"Result window is too large, from + size must be less than or equal to: "
                f"[{window}] but was [{start + size}]. See the scroll api for a more "
                "efficient way to request large data sets. This limit can be set by changing the "
                "[index.max_result_window] index level setting.",
                "illegal_argument_exception",
            )
        sort = _sort_spec(self.body.get("sort"), self.pit)
        keyed = [(self.sort_values(s, sort), s) for s in self.matched]
        keyed.sort(key=lambda pair: _key(pair[0], sort))
        after = self.body.get("search_after")
        if after is not None:
            if start:
                raise DslError("[from] parameter must be set to 0 when [search_after] is used",
                               "illegal_argument_exception")  # fmt: skip
            if len(after) != len(sort):
                raise DslError(f"search_after has {len(after)} value(s) but sort has "
                               f"{len(sort)}.", "illegal_argument_exception")  # fmt: skip
            bound = _key(list(after), sort)
            keyed = [p for p in keyed if _key(p[0], sort) > bound]
        page = keyed[start : start + size]
        hits = [self.hit(s, values if self.body.get("sort") or self.pit else None)
                for values, s in page]  # fmt: skip
        total = len(self.matched)
        track = self.body.get("track_total_hits", True)
        out: dict[str, Any] = {"took": 1, "timed_out": False,
                               "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                               "hits": {"max_score": None, "hits": hits}}  # fmt: skip
        if track is not False:
            limit = MAX_RESULT_WINDOW if track is True else int(track)
            out["hits"]["total"] = ({"value": total, "relation": "eq"} if total <= limit
                                    else {"value": limit, "relation": "gte"})  # fmt: skip
        aggs = self.body.get("aggs") or self.body.get("aggregations")
        if aggs:
            out["aggregations"] = self.aggregations(aggs, self.matched)
        return out

    def hit(self, stored: Stored, sort: list[Any] | None, source: Any = True) -> dict[str, Any]:
        doc = stored.doc
        hit: dict[str, Any] = {"_index": doc.index, "_id": doc.id, "_score": None}
        wanted = self.body.get("_source", True) if source is True else source
        if wanted is not False:
            hit["_source"] = dict(doc.source)
        if self.body.get("seq_no_primary_term"):
            hit["_seq_no"], hit["_primary_term"] = stored.seq_no, 1
        if self.body.get("fields") and source is True:
            found = hit_fields(self.mappings[doc.index], doc.source, self.body["fields"])
            if found:
                hit["fields"] = found
        if sort is not None:
            hit["sort"] = sort
        return hit

    def sort_values(self, stored: Stored, sort: Sequence[tuple[str, str, Mapping[str, Any]]]
                    ) -> list[Any]:  # fmt: skip
        out = []
        for name, order, spec in sort:
            if name in ("_doc", "_shard_doc"):
                out.append(stored.order)
                continue
            mapping = self.mappings[stored.doc.index]
            ftype = mapping.field_type(name)
            if ftype is None:
                if not any(m.field_type(name) for m in self.mappings.values()) and not spec.get(
                    "unmapped_type"
                ):
                    raise DslError(f"No mapping found for [{name}] in order to sort on",
                                   "query_shard_exception")  # fmt: skip
                kind = spec.get("unmapped_type") or "keyword"
                values: list[Any] = []
            else:
                kind = ftype.type
                if kind in TEXT_TYPES:
                    raise DslError(
                        f"Fielddata is disabled on [{name}] in [{stored.doc.index}]. Text fields "
                        "are not optimised for operations that require per-document field data "
                        "like aggregations and sorting, so these operations are disabled by "
                        "default.", "illegal_argument_exception")  # fmt: skip
                values = [_sortable(kind, v) for v in mapping.values(stored.doc.source, name)]
                values = [v for v in values if v is not None]
            if values:
                out.append(min(values) if order == "asc" else max(values))
            elif kind in ("keyword", "constant_keyword", "wildcard", "ip", "boolean"):
                out.append(None)
            else:
                out.append(LONG_MAX if order == "asc" else LONG_MIN)
        return out

    # --- aggregations ----------------------------------------------------------------------
    def aggregations(self, aggs: Mapping[str, Any], docs: Sequence[Stored]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in aggs.items():
            kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
            if len(kinds) != 1:
                raise DslError(f"Expected one aggregation type for [{name}]", "parsing_exception")
            kind = kinds[0]
            sub = spec.get("aggs") or spec.get("aggregations") or {}
            handler = _AGGS.get(kind)
            if handler is None:
                raise DslError(f"Unknown aggregation type [{kind}] did you mean [terms]?",
                               "parsing_exception")  # fmt: skip
            if kind == "bucket_selector":
                continue
            out[name] = handler(self, spec[kind], sub, docs)
        return out

    def bucket(self, key: Any, docs: Sequence[Stored], sub: Mapping[str, Any]
               ) -> dict[str, Any] | None:  # fmt: skip
        bucket: dict[str, Any] = {"key": key, "doc_count": len(docs)}
        bucket.update(self.aggregations(sub, docs))
        for spec in sub.values():
            if "bucket_selector" in spec and not _select(spec["bucket_selector"], bucket):
                return None
        return bucket

    def field_values(self, stored: Stored, name: str) -> tuple[str, list[Any]]:
        mapping = self.mappings[stored.doc.index]
        ftype = mapping.field_type(name)
        if ftype is None:
            return "", []
        if ftype.type in TEXT_TYPES:
            raise DslError(f"Fielddata is disabled on [{name}] in [{stored.doc.index}]. Text "
                           "fields are not optimised for operations that require per-document "
                           "field data like aggregations and sorting.",
                           "illegal_argument_exception")  # fmt: skip
        values = [_sortable(ftype.type, v) for v in mapping.values(stored.doc.source, name)]
        return ftype.type, list(dict.fromkeys(v for v in values if v is not None))


def _sortable(kind: str, value: Any) -> Any:
    if kind in ("date", "date_nanos"):
        return parse_date_ms(value)
    if kind in NUMERIC_TYPES:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return int(number) if kind in INTEGER_TYPES else number
    if kind == "boolean":
        return {True: 1, False: 0, "true": 1, "false": 0}.get(value)
    return value if isinstance(value, str) else str(value)


def _sort_spec(raw: Any, pit: bool) -> list[tuple[str, str, Mapping[str, Any]]]:
    items = raw if isinstance(raw, list) else [raw] if raw else []
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, "desc" if item == "_score" else "asc", {}))
            continue
        ((name, spec),) = item.items()
        if isinstance(spec, str):
            out.append((name, spec, {}))
        else:
            out.append((name, str(spec.get("order", "asc")), spec))
    if not out:
        out.append(("_doc", "asc", {}))
    if pit and not any(n == "_shard_doc" for n, _, _ in out):
        out.append(("_shard_doc", "asc", {}))
    return out


class _Desc:
    """Reverses the order of a sort value (``desc``)."""

    __slots__ = ("v",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.v < self.v)

    def __gt__(self, other: _Desc) -> bool:
        return bool(other.v > self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v


def _key(values: Sequence[Any], sort: Sequence[tuple[str, str, Mapping[str, Any]]]
         ) -> tuple[Any, ...]:  # fmt: skip
    out: list[Any] = []
    for value, (_, order, _spec) in zip(values, sort, strict=True):
        if value is None or value in (LONG_MAX, LONG_MIN):
            out.append((1, 0))  # missing values come last in either order
        elif order == "desc":
            out.append((0, _Desc(value)))
        else:
            out.append((0, value))
    return tuple(out)


def _format_key(kind: str, value: Any) -> tuple[Any, str | None]:
    if kind in ("date", "date_nanos"):
        return value, format_date(int(value))
    if kind == "boolean":
        return value, "true" if value else "false"
    return value, None


def _composite(search: Search, spec: Mapping[str, Any], sub: Mapping[str, Any],
               docs: Sequence[Stored]) -> dict[str, Any]:  # fmt: skip
    sources = [(name, s["terms"]["field"]) for item in spec["sources"]
               for name, s in item.items()]  # fmt: skip
    size = int(spec.get("size", 10))
    groups: dict[tuple[Any, ...], list[Stored]] = {}
    kinds: dict[str, str] = {}
    for stored in docs:
        combos: list[tuple[Any, ...]] = [()]
        for name, fld in sources:
            kind, values = search.field_values(stored, fld)
            kinds.setdefault(name, kind)
            combos = [(*c, v) for c in combos for v in values]
        for combo in combos:
            groups.setdefault(combo, []).append(stored)
    keys = sorted(groups, key=_mixed)
    after = spec.get("after")
    if after is not None:
        bound = _mixed(tuple(_after_value(kinds.get(n, ""), after.get(n)) for n, _ in sources))
        keys = [k for k in keys if _mixed(k) > bound]
    buckets = []
    for combo in keys:
        if len(buckets) >= size:
            break
        key = {}
        for (name, _), value in zip(sources, combo, strict=True):
            kind = kinds.get(name, "")
            key[name] = bool(value) if kind == "boolean" else value
        bucket = search.bucket(key, groups[combo], sub)
        if bucket is not None:
            buckets.append(bucket)
    out: dict[str, Any] = {"buckets": buckets}
    if buckets:
        out["after_key"] = buckets[-1]["key"]
    return out


def _after_value(kind: str, value: Any) -> Any:
    if kind == "boolean":
        return 1 if value in (True, "true", 1) else 0
    if kind in ("date", "date_nanos") and isinstance(value, str):
        return parse_date_ms(value)
    return value


def _mixed(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, v) if isinstance(v, int | float) else (1, str(v)) for v in key)


def _terms(search: Search, spec: Mapping[str, Any], sub: Mapping[str, Any],
           docs: Sequence[Stored]) -> dict[str, Any]:  # fmt: skip
    fld = spec["field"]
    include = spec.get("include")
    groups: dict[Any, list[Stored]] = {}
    kind = ""
    for stored in docs:
        k, values = search.field_values(stored, fld)
        kind = kind or k
        for value in values:
            groups.setdefault(value, []).append(stored)
    if isinstance(include, list):
        wanted = {_sortable(kind, v) for v in include}
        groups = {k: v for k, v in groups.items() if k in wanted}
    elif isinstance(include, str):
        rx = re.compile(include)
        groups = {k: v for k, v in groups.items() if rx.fullmatch(str(k))}
    ordered = sorted(groups, key=lambda k: (-len(groups[k]), _mixed((k,))))
    buckets = []
    for value in ordered[: int(spec.get("size", 10))]:
        key, text = _format_key(kind, value)
        bucket = search.bucket(key, groups[value], sub)
        if bucket is None:
            continue
        if text is not None:
            bucket = {"key": key, "key_as_string": text, **{k: v for k, v in bucket.items()
                                                              if k != "key"}}  # fmt: skip
        buckets.append(bucket)
    return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": buckets}


def _metric_values(search: Search, spec: Mapping[str, Any], docs: Sequence[Stored]
                   ) -> tuple[str, list[Any]]:  # fmt: skip
    found: list[Any] = []
    kind = ""
    for stored in docs:
        k, values = search.field_values(stored, spec["field"])
        kind = kind or k
        found += values
    return kind, found


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[..., dict[str, Any]]:
    def metric(search: Search, spec: Mapping[str, Any], sub: Mapping[str, Any],
               docs: Sequence[Stored]) -> dict[str, Any]:  # fmt: skip
        kind, found = _metric_values(search, spec, docs)
        if not found:
            return {"value": None}
        value = pick(found)
        out: dict[str, Any] = {"value": float(value)}
        if kind in ("date", "date_nanos"):
            out["value_as_string"] = format_date(int(value))
        return out

    return metric


def _cardinality(search: Search, spec: Mapping[str, Any], sub: Mapping[str, Any],
                 docs: Sequence[Stored]) -> dict[str, Any]:  # fmt: skip
    # Exact: Elasticsearch's estimate is exact below its precision threshold (3000 default).
    return {"value": len(set(_metric_values(search, spec, docs)[1]))}


def _top_hits(search: Search, spec: Mapping[str, Any], sub: Mapping[str, Any],
              docs: Sequence[Stored]) -> dict[str, Any]:  # fmt: skip
    sort = _sort_spec(spec.get("sort"), False)
    keyed = sorted(((search.sort_values(s, sort), s) for s in docs),
                   key=lambda p: _key(p[0], sort))  # fmt: skip
    size = int(spec.get("size", 3))
    hits = [search.hit(s, v if spec.get("sort") else None, spec.get("_source", True))
            for v, s in keyed[:size]]  # fmt: skip
    return {"hits": {"total": {"value": len(docs), "relation": "eq"}, "max_score": None,
                     "hits": hits}}  # fmt: skip


_COMPARE = re.compile(
    r"^\s*params\.(\w+)\s*(>=|<=|==|!=|>|<)\s*(?:params\.(\w+)|(-?\d+(?:\.\d+)?))\s*;?\s*$"
)


def _select(spec: Mapping[str, Any], bucket: Mapping[str, Any]) -> bool:
    script = spec.get("script")
    source = script if isinstance(script, str) else (script or {}).get("source", "")
    params = dict((script or {}).get("params") or {}) if isinstance(script, dict) else {}
    for var, path in (spec.get("buckets_path") or {}).items():
        agg = bucket.get(path)
        params[var] = agg.get("value") if isinstance(agg, dict) else bucket.get("doc_count")
    found = _COMPARE.match(str(source))
    if found is None:
        raise DslError(f"bucket_selector script [{source}] is not computed by the stand-in",
                       "illegal_argument_exception")  # fmt: skip
    left, op = params.get(found[1]), found[2]
    right = params.get(found[3]) if found[3] else float(found[4])
    if left is None or right is None:
        return False  # gap_policy skip
    tests: dict[str, Callable[[Any, Any], bool]] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    return tests[op](left, right)


_AGGS: dict[str, Callable[..., dict[str, Any]]] = {
    "composite": _composite,
    "terms": _terms,
    "min": _extreme(min),
    "max": _extreme(max),
    "cardinality": _cardinality,
    "top_hits": _top_hits,
    "bucket_selector": lambda *a: {},
}
