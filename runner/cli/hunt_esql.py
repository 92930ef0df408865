"""``runner hunt --language esql``: an ad-hoc ES|QL query, printed as a table or NDJSON rows."""

from __future__ import annotations

import json

from runner.backends.base import Backend
from runner.cli.output import shorten, table
from runner.esql import parse_esql
from runner.search import EsqlRequest, EsqlResult, TimeRange


def hunt_esql(
    backend: Backend, text: str, *, time_range: TimeRange | None, size: int, fmt: str
) -> int:
    """``--from``/``--to`` become the request's window filter; ``--size`` a final LIMIT."""
    result = backend.search_esql(
        EsqlRequest(query=parse_esql(text), time_range=time_range, size=size)
    )
    if fmt == "ndjson":
        for document in rows(result):
            print(json.dumps(document, ensure_ascii=False))
    else:
        names = [c.name for c in result.columns]
        table(names, [tuple(shorten(_cell(v), 60) for v in row) for row in result.values])
    return 0


def rows(result: EsqlResult) -> list[dict[str, object]]:
    names = [c.name for c in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.values]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
