"""``_search`` with query DSL, sorting and aggregations for the fake cluster, computed.

The documents are those loaded into an embedded store; the query is compiled by the embedded
engine's DSL compiler (the same semantics the embedded backend uses), and everything after
matching follows Elasticsearch's documented behaviour:

- ``runtime_mappings``: a date field with Kibana's combined-timestamp script (emit the
  primary field when the document has it, else the secondary) is evaluated per document, and
  a ``range`` on it is the equivalent "primary in range, or primary missing and secondary in
  range" query;
- hits: ``size`` (default 10), ``from``, ``sort`` (field order, missing values last;
  ``_shard_doc`` is index order), ``search_after``, points in time (``POST <index>/_pit``,
  ``POST /_search`` with ``pit``, ``DELETE /_pit``; an unknown id is a 404),
  ``track_total_hits`` (default: count up to 10,000, relation ``gte`` beyond);
- aggregations: ``composite`` with ``terms`` sources (each value of a multi-valued field is a
  bucket of its own, a document lacking a field is in no bucket, buckets in ascending key order
  with numbers before strings, ``size``, ``after``, ``after_key`` = the last bucket's key
  before any pipeline aggregation), ``min``/``max`` (``value`` in epoch ms plus
  ``value_as_string`` for dates), ``cardinality`` (exact), and ``bucket_selector`` with the
  ``params.<name> >= <number>`` scripts Kibana sends.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.elastic.dsl import COMBINED_SCRIPT
from runner.embedded.catalog import Catalog
from runner.embedded.dates import parse_es_date_ms
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.indices import index_filter
from runner.embedded.plan import HIT_COLUMNS, fetch_hits
from runner.embedded.store import Store
from runner.errors import QueryError
from runner.search import Hit
from runner.timeutil import isoformat
from tests.elastic.fake_cluster import FakeCluster, Recorded, Reply, error_body, search_body

TRACK_DEFAULT = 10_000
_SELECTOR = re.compile(r"^\s*params\.(\w+)\s*(>=|>|<=|<|==)\s*(-?[\d.]+)\s*$")
SOURCE_SEARCH = r"^/(?!runner|\.alerts)[^_/][^/]*/_search$"


@dataclass
class PointsInTime:
    """Open points in time: id -> the index patterns it was opened on."""

    open: dict[str, list[str]] = field(default_factory=dict)
    opened: int = 0


def serve_search(cluster: FakeCluster, store: Store, now: datetime) -> PointsInTime:
    """Answer ``POST <source indices>/_search`` and the point-in-time APIs from ``store``."""
    pits = PointsInTime()

    def answer(patterns: list[str], body: dict[str, Any]) -> Reply:
        try:
            return Reply(200, search(store, patterns, body, now))
        except QueryError as exc:
            return Reply(400, error_body(400, "parsing_exception", exc.reason))

    def handle(request: Recorded) -> Reply:
        index = request.path.strip("/").split("/")[0]
        return answer([] if index in ("*", "_all") else index.split(","), request.body or {})

    def open_pit(request: Recorded) -> Reply:
        assert request.query.get("keep_alive"), "a point in time needs keep_alive"
        pits.opened += 1
        pit_id = f"pit-{pits.opened}"
        pits.open[pit_id] = request.path.strip("/").split("/")[0].split(",")
        return Reply(200, {"id": pit_id, "_shards": {"total": 1, "successful": 1, "failed": 0}})

    def pit_search(request: Recorded) -> Reply:
        body = dict(request.body or {})
        pit = body.pop("pit", None)
        if not isinstance(pit, dict) or pit.get("id") not in pits.open:
            reason = "No search context found for id"
            return Reply(404, error_body(404, "search_context_missing_exception", reason))
        reply = answer(pits.open[pit["id"]], body)
        if reply.status == 200:
            reply.body["pit_id"] = pit["id"]
        return reply

    def close_pit(request: Recorded) -> Reply:
        found = pits.open.pop(str((request.body or {}).get("id")), None) is not None
        return Reply(200 if found else 404, {"succeeded": found, "num_freed": int(found)})

    cluster.script("POST", r"^/[^_/][^/]*/_pit$", open_pit, repeat_last=True)
    cluster.script("POST", "/_search", pit_search, repeat_last=True)
    cluster.script("DELETE", "/_pit", close_pit, repeat_last=True)
    cluster.script("POST", SOURCE_SEARCH, handle, repeat_last=True)
    return pits


def search(
    store: Store, patterns: list[str], body: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    runtime = _combined_fields(body.get("runtime_mappings") or {})
    query = _rewrite(body.get("query", {"match_all": {}}), runtime)
    hits = matching(store, patterns, query, now)
    docs = [(h, _resolver(h, runtime)) for h in hits]
    extra: dict[str, Any] = {}
    aggs = body.get("aggs") or body.get("aggregations")
    if aggs:
        extra["aggregations"] = _aggregate(aggs, docs)
    ordered = _sorted(docs, body.get("sort") or [])
    if body.get("search_after") is not None:
        directions = _directions(body.get("sort") or [])
        ordered = [d for d in ordered if _after(d[2], body["search_after"], directions)]
    start = int(body.get("from", 0))
    page = ordered[start : start + int(body.get("size", 10))]
    answer = search_body(
        [{**h.as_hit(), "_score": None, **({"sort": keys} if keys else {})} for h, _, keys in page],
        **extra,
    )
    track = body.get("track_total_hits", TRACK_DEFAULT)
    total = len(hits)
    if track is False:
        del answer["hits"]["total"]
    elif track is not True and total > int(track):
        answer["hits"]["total"] = {"value": int(track), "relation": "gte"}
    else:
        answer["hits"]["total"] = {"value": total, "relation": "eq"}
    return answer


def matching(
    store: Store, patterns: list[str], query: Mapping[str, Any], now: datetime
) -> list[Hit]:
    with store.connect() as con:
        catalog = Catalog.load(con)
        where = f"({dsl_filter(catalog, query, now=now)}) AND ({index_filter(patterns)})"
        rows = con.execute(
            f"SELECT {HIT_COLUMNS} FROM events WHERE {where} ORDER BY rowid"
        ).fetchall()
        found = fetch_hits(con, rows)
    return [found[int(str(r[0]))] for r in rows]


# --- fields ---------------------------------------------------------------------------------

Resolver = Callable[[str], list[Any]]


def values_of(source: Any, path: str) -> list[Any]:
    """Every value at ``path`` in a document whose keys may be nested or dotted (or both),
    arrays flattened, nulls left out."""
    if not path:
        return _flatten(source)
    if isinstance(source, list):
        return [v for item in source for v in values_of(item, path)]
    if not isinstance(source, Mapping):
        return []
    found: list[Any] = []
    parts = path.split(".")
    for cut in range(1, len(parts) + 1):
        key = ".".join(parts[:cut])
        if key in source:
            found += values_of(source[key], ".".join(parts[cut:]))
    return found


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _combined_fields(runtime: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    found = {}
    for name, spec in runtime.items():
        script = (spec or {}).get("script") or {}
        if script.get("source") != COMBINED_SCRIPT:
            raise AssertionError(f"stand-in: unknown runtime field script for {name}")
        params = script.get("params") or {}
        found[name] = (params["primary"], params["secondary"])
    return found


def _resolver(hit: Hit, runtime: Mapping[str, tuple[str, str]]) -> Resolver:
    def resolve(path: str) -> list[Any]:
        if path in runtime:
            primary, secondary = runtime[path]
            return values_of(hit.source, primary)[:1] or values_of(hit.source, secondary)[:1]
        return values_of(hit.source, path)

    return resolve


_FIELD_TERMS = re.compile(r"^\s*[\w.@]+:[^\s:()]+(\s+OR\s+[\w.@]+:[^\s:()]+)*\s*$")


def _rewrite(query: Any, runtime: Mapping[str, tuple[str, str]]) -> Any:
    """A ``range`` on a combined-timestamp runtime field as the equivalent plain query, and a
    ``query_string`` of ``field:value`` terms joined by ``OR`` (what Kibana's anomaly search
    sends) as the ``term`` queries it means."""
    if isinstance(query, list):
        return [_rewrite(q, runtime) for q in query]
    if not isinstance(query, Mapping):
        return query
    if "query_string" in query and _FIELD_TERMS.match(query["query_string"].get("query", "")):
        text = query["query_string"]["query"]
        terms = [part.split(":", 1) for part in text.split(" OR ")]
        return {
            "bool": {
                "should": [{"term": {f.strip(): v.strip()}} for f, v in terms],
                "minimum_should_match": 1,
            }
        }
    if "range" in query and len(query["range"]) == 1:
        ((name, bounds),) = query["range"].items()
        if name in runtime:
            primary, secondary = runtime[name]
            return {
                "bool": {
                    "minimum_should_match": 1,
                    "should": [
                        {"range": {primary: bounds}},
                        {
                            "bool": {
                                "filter": [
                                    {"range": {secondary: bounds}},
                                    {"bool": {"must_not": {"exists": {"field": primary}}}},
                                ]
                            }
                        },
                    ],
                }
            }
    return {k: _rewrite(v, runtime) for k, v in query.items()}


# --- ordering -------------------------------------------------------------------------------


def _order_key(value: Any) -> tuple[int, Any]:
    """Numbers before strings; strings bytewise (as keyword doc values sort)."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value).encode("utf-8"))


def _sort_value(values: list[Any]) -> Any:
    if not values:
        return None
    value = values[0]
    if isinstance(value, str):
        millis = parse_es_date_ms(value)
        if millis is not None:
            return millis
    return value


def _sorted(
    docs: list[tuple[Hit, Resolver]], sort: list[Any]
) -> list[tuple[Hit, Resolver, list[Any]]]:
    specs: list[tuple[str, bool]] = []
    for clause in sort:
        if isinstance(clause, str):
            specs.append((clause, False))
            continue
        ((name, spec),) = clause.items()
        order = spec.get("order", "asc") if isinstance(spec, Mapping) else spec
        specs.append((name, order == "desc"))
    keyed = [
        (h, r, [position if name == "_shard_doc" else _sort_value(r(name)) for name, _ in specs])
        for position, (h, r) in enumerate(docs)
    ]
    for position in reversed(range(len(specs))):
        desc = specs[position][1]
        present = [d for d in keyed if d[2][position] is not None]
        missing = [d for d in keyed if d[2][position] is None]
        present.sort(key=lambda d, p=position: _order_key(d[2][p]), reverse=desc)
        keyed = present + missing
    return keyed


def _directions(sort: list[Any]) -> list[bool]:
    """Per sort key: descending?"""
    found = []
    for clause in sort:
        spec = next(iter(clause.values())) if isinstance(clause, Mapping) else "asc"
        found.append((spec.get("order", "asc") if isinstance(spec, Mapping) else spec) == "desc")
    return found


def _after(keys: list[Any], after: list[Any], descending: list[bool]) -> bool:
    """Whether a document sorts after the ``search_after`` keys, each in its own direction."""
    for position, (key, bound) in enumerate(zip(keys, after, strict=False)):
        mine, theirs = _order_key(key), _order_key(bound)
        if mine != theirs:
            desc = position < len(descending) and descending[position]
            return mine < theirs if desc else mine > theirs
    return False


# --- aggregations ---------------------------------------------------------------------------


def _aggregate(aggs: Mapping[str, Any], docs: list[tuple[Hit, Resolver]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, spec in aggs.items():
        kinds = [k for k in spec if k not in ("aggs", "aggregations")]
        (kind,) = kinds
        if kind == "composite":
            subs = spec.get("aggs") or spec.get("aggregations") or {}
            result[name] = _composite(spec["composite"], subs, docs)
        elif kind in ("min", "max", "cardinality"):
            result[name] = _metric(kind, spec[kind]["field"], docs)
        elif kind == "bucket_selector":
            continue  # applied by the parent bucket aggregation
        else:
            raise AssertionError(f"stand-in: aggregation {kind!r} is not supported")
    return result


def _metric(kind: str, field: str, docs: Iterable[tuple[Hit, Resolver]]) -> dict[str, Any]:
    values = [v for _, resolve in docs for v in resolve(field)]
    if kind == "cardinality":
        return {"value": len({repr(v) for v in values})}
    dates = [parse_es_date_ms(v) if isinstance(v, str) else None for v in values]
    if values and all(d is not None for d in dates):
        millis = (min if kind == "min" else max)(d for d in dates if d is not None)
        when = datetime.fromtimestamp(millis / 1000, UTC)
        return {"value": float(millis), "value_as_string": isoformat(when)}
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return {"value": (min if kind == "min" else max)(numbers) if numbers else None}


def _composite(
    spec: Mapping[str, Any], subs: Mapping[str, Any], docs: list[tuple[Hit, Resolver]]
) -> dict[str, Any]:
    sources = []
    for source in spec["sources"]:
        ((name, definition),) = source.items()
        sources.append((name, definition["terms"]["field"]))
    groups: dict[tuple[Any, ...], list[tuple[Hit, Resolver]]] = {}
    for hit, resolve in docs:
        per_field = [list(dict.fromkeys(resolve(field))) for _, field in sources]
        for key in set(itertools.product(*per_field)):
            groups.setdefault(key, []).append((hit, resolve))
    keys = sorted(groups, key=lambda k: [_order_key(v) for v in k])
    if spec.get("after"):
        after = [_order_key(spec["after"][name]) for name, _ in sources]
        keys = [k for k in keys if [_order_key(v) for v in k] > after]
    page = keys[: int(spec.get("size", 10))]
    buckets = []
    for key in page:
        members = groups[key]
        bucket: dict[str, Any] = {
            "key": {name: value for (name, _), value in zip(sources, key, strict=True)},
            "doc_count": len(members),
        }
        bucket.update(_aggregate(subs, members))
        if all(_selected(sel["bucket_selector"], bucket) for sel in _selectors(subs)):
            buckets.append(bucket)
    answer: dict[str, Any] = {"buckets": buckets}
    if page:
        answer["after_key"] = {
            name: value for (name, _), value in zip(sources, page[-1], strict=True)
        }
    return answer


def _selectors(subs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [spec for spec in subs.values() if "bucket_selector" in spec]


def _selected(selector: Mapping[str, Any], bucket: Mapping[str, Any]) -> bool:
    script = selector["script"]
    text = script if isinstance(script, str) else script.get("source", "")
    match = _SELECTOR.match(text)
    if match is None:
        raise AssertionError(f"stand-in: bucket_selector script {text!r} is not supported")
    name, op, number = match.groups()
    path = selector["buckets_path"][name]
    value = bucket["doc_count"] if path == "_count" else bucket[path]["value"]
    bound = float(number)
    return bool(
        {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound,
         "==": value == bound}[op]
    )  # fmt: skip
