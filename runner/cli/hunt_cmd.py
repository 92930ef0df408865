"""``runner hunt QUERY``: ad-hoc EQL, KQL or ES|QL over the store (or the cluster)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Protocol

from runner.cli.app import App, Commands
from runner.cli.output import field_value, positive_int, shorten, table
from runner.timeutil import parse_time, utcnow

if TYPE_CHECKING:
    from runner.embedded.store import Store
    from runner.search import EqlRequest, EqlResult, Hit, KqlRequest, MissingEvent


class _Searches(Protocol):
    def search_eql(self, request: EqlRequest) -> EqlResult: ...

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]: ...


class _StoreSearches:
    """The embedded store's searches alone: a hunt loads no alert store or value lists."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def search_eql(self, request: EqlRequest) -> EqlResult:
        from runner.embedded.search import search_eql

        return search_eql(self.store, request)

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        from runner.embedded.search import search_kql

        return search_kql(self.store, request)


def _searches(app: App) -> _Searches:
    if app.settings.elasticsearch.configured:
        return app.existing_backend()
    return _StoreSearches(app.existing_store())


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    hunt = commands.add_parser(
        "hunt", help="run an EQL, KQL or ES|QL query over the stored events", parents=[parent]
    )
    hunt.add_argument("query", metavar="QUERY")
    hunt.add_argument("--language", choices=("eql", "kuery", "esql"), default="eql")
    hunt.add_argument(
        "--index", metavar="PATTERN[,PATTERN]", default="", help="index patterns (default: all)"
    )
    hunt.add_argument("--from", dest="from_", metavar="TIME", help="ISO 8601 or date math")
    hunt.add_argument("--to", metavar="TIME", help="ISO 8601 or date math")
    hunt.add_argument("--size", type=positive_int, default=100, metavar="N")
    hunt.add_argument("--tiebreaker-field", metavar="F")
    hunt.add_argument("--timestamp-field", metavar="F", default="@timestamp")
    hunt.add_argument("--event-category-field", metavar="F", default="event.category")
    hunt.add_argument("--format", choices=("table", "ndjson"), default="table")
    hunt.set_defaults(func=cmd_hunt)  # fmt: skip


def cmd_hunt(args: argparse.Namespace, app: App) -> int:
    from runner.search import EqlRequest, EqlResult, KqlRequest, TimeRange

    now = utcnow()
    time_range = None
    if args.from_ or args.to:
        time_range = TimeRange(
            field=args.timestamp_field,
            start=parse_time(args.from_, now) if args.from_ else None,
            end=parse_time(args.to, now) if args.to else None,
        )
    indices = tuple(p.strip() for p in args.index.split(",") if p.strip())
    if args.language == "esql":
        from runner.cli.hunt_esql import hunt_esql

        return hunt_esql(
            app.existing_backend(),
            args.query,
            time_range=time_range,
            size=args.size,
            fmt=args.format,
        )
    backend = _searches(app)
    if args.language == "kuery":
        from runner.kql import parse_kql

        hits = backend.search_kql(
            KqlRequest(
                query=parse_kql(args.query),
                indices=indices,
                time_range=time_range,
                size=args.size,
                timestamp_field=args.timestamp_field,
            )
        )
        result = EqlResult(events=hits)
    else:
        from runner.eql import parse_eql

        result = backend.search_eql(
            EqlRequest(
                query=parse_eql(args.query),
                indices=indices,
                time_range=time_range,
                size=args.size,
                timestamp_field=args.timestamp_field,
                tiebreaker_field=args.tiebreaker_field,
                event_category_field=args.event_category_field,
            )
        )
    if args.format == "ndjson":
        _print_ndjson(result)
    else:
        _print_table(result, args.timestamp_field)
    return 0


def _print_ndjson(result: EqlResult) -> None:
    for hit in result.events:
        print(json.dumps(hit.as_hit()))
    for match in result.sequences:
        print(
            json.dumps(
                {"join_keys": list(match.join_keys), "events": [e.as_hit() for e in match.events]}
            )
        )


def _row(hit: Hit | MissingEvent, timestamp_field: str, prefix: str = "") -> tuple[str, ...]:
    from runner.search import MissingEvent

    if isinstance(hit, MissingEvent):
        return (prefix, "(missing event)", "", "", "", "")
    src = hit.source
    what = (
        field_value(src, "process.name")
        or field_value(src, "file.path")
        or field_value(src, "dns.question.name")
    )
    return (
        prefix,
        str(field_value(src, timestamp_field) or ""),
        hit.index,
        shorten(hit.id, 24),
        str(field_value(src, "host.name") or ""),
        shorten(str(what or ""), 60),
    )


def _print_table(result: EqlResult, timestamp_field: str) -> None:
    headers = ("seq", "timestamp", "index", "id", "host", "process / file")
    rows = [_row(hit, timestamp_field) for hit in result.events]
    for number, match in enumerate(result.sequences, 1):
        keys = ", ".join(json.dumps(k) for k in match.join_keys)
        rows += [_row(e, timestamp_field, f"{number} [{keys}]") for e in match.events]
    table(headers, rows, empty="no matches")
    count = len(result.sequences) or len(result.events)
    kind = "sequence(s)" if result.sequences else "event(s)"
    print(f"\n{count} {kind}")
