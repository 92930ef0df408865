"""The field catalog: which fields exist, their columns, kinds, and the documents' shape.

Kept in two small tables (``event_fields``, ``event_shape``) beside ``events``.  Loading grows
the catalog (new columns, or a column widened to a LIST or to VARCHAR when new documents call
for it); searching only reads it, so a query over a field no document has compiles to NULL.
A field whose values looked like dates when its column was made also gets a BIGINT twin in
epoch ms (``ms_col``, kept in step with it), used where the field serves as a timestamp.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from runner.embedded.fields import (
    ColumnKind,
    FieldInfo,
    FieldSpec,
    date_ms_sql,
    field_specs,
    quote_ident,
    sql_string,
)
from runner.embedded.shape import Shape, transform_type
from runner.embedded.store import EVENT_SEQ_INDEX

__all__ = ["Catalog"]

_INTERNAL = ("_seq", "_index", "_id", "_ts", "_source", "rowid")


@dataclass(slots=True)
class Catalog:
    shape: Shape
    fields: dict[str, FieldInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> Catalog:
        # One round trip: every search starts here.
        row = con.execute(
            "SELECT (SELECT shape FROM event_shape WHERE id = 1), "
            "(SELECT list({'f': field, 'c': col, 'k': kind, 'l': is_list, 'm': ms_col}) "
            "FROM event_fields)"
        ).fetchone()
        shape = Shape.from_json(json.loads(row[0])) if row and row[0] else Shape()
        fields = {
            f["f"]: FieldInfo(
                name=f["f"], column=f["c"], kind=f["k"], is_list=bool(f["l"]), ms_column=f["m"]
            )
            for f in (row[1] if row and row[1] else [])
        }
        return cls(shape=shape, fields=fields)

    def get(self, name: str) -> FieldInfo | None:
        return self.fields.get(name)

    def apply_shape(
        self, con: duckdb.DuckDBPyConnection, shape: Shape, dates: Collection[str] = ()
    ) -> None:
        """Create or widen columns so every field of ``shape`` has the right column.

        New keyword fields named in ``dates`` (their values look like dates) also get an
        epoch-ms column (:attr:`FieldInfo.ms_column`).
        """
        specs = field_specs(shape)
        taken = {
            str(r[0]).lower()
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE table_name = 'events' AND database_name = current_database()"
            ).fetchall()
        }
        taken.update(_INTERNAL)
        refresh: dict[str, FieldSpec] = {}
        added: list[FieldInfo] = []
        for name, spec in specs.items():
            known = self.fields.get(name)
            if known is None:
                column = _free_name(name, taken)
                taken.add(column.lower())
                column_type = _sql_type(spec.kind, spec.is_list)
                con.execute(f"ALTER TABLE events ADD COLUMN {quote_ident(column)} {column_type}")
                ms_column = None
                if name in dates and spec.kind == "keyword":
                    ms_column = _free_name(f"{name}#ms", taken)
                    taken.add(ms_column.lower())
                    con.execute(f"ALTER TABLE events ADD COLUMN {quote_ident(ms_column)} BIGINT")
                info = FieldInfo(
                    name=name,
                    column=column,
                    kind=spec.kind,
                    is_list=spec.is_list,
                    ms_column=ms_column,
                )
                added.append(info)
                self.fields[name] = info
            elif known.kind != spec.kind or known.is_list != spec.is_list:
                refresh[name] = spec
        self._save_fields(con, added)
        if refresh:
            self._recompute(con, shape, refresh)
        self.shape = shape
        con.execute("INSERT OR REPLACE INTO event_shape (id, shape) VALUES (1, ?)", [shape.dumps()])

    def _recompute(
        self, con: duckdb.DuckDBPyConnection, shape: Shape, changed: Mapping[str, FieldSpec]
    ) -> None:
        # Stored rows are re-read from _source: the new shape covers them too.
        structure = sql_string(json.dumps(transform_type(shape), separators=(",", ":")))
        from_source = field_specs(shape, row=f"json_transform(_source, {structure})")
        # DuckDB alters no column of a table that has an index.
        indexed = con.execute(
            "SELECT 1 FROM duckdb_indexes() WHERE index_name = ? AND database_name = "
            "current_database()",
            [EVENT_SEQ_INDEX],
        ).fetchone()
        con.execute(f"DROP INDEX IF EXISTS {EVENT_SEQ_INDEX}")
        for name, spec in changed.items():
            info = self.fields[name]
            con.execute(
                f"ALTER TABLE events ALTER COLUMN {quote_ident(info.column)} "
                f"TYPE {_sql_type(spec.kind, spec.is_list)} USING {from_source[name].sql}"
            )
            if info.ms_column:  # the values' text may change (a number read as keyword)
                con.execute(
                    f"ALTER TABLE events ALTER COLUMN {quote_ident(info.ms_column)} TYPE BIGINT "
                    f"USING {date_ms_sql(from_source[name].sql, spec.is_list)}"
                )
            updated = FieldInfo(
                name=name,
                column=info.column,
                kind=spec.kind,
                is_list=spec.is_list,
                ms_column=info.ms_column,
            )
            self._save_fields(con, [updated])
            self.fields[name] = updated
        if indexed:
            con.execute(f"CREATE INDEX {EVENT_SEQ_INDEX} ON events (_seq)")

    def columns_for(self, specs: Mapping[str, FieldSpec]) -> list[tuple[str, str]]:
        """(quoted column, SQL value) for every column the fields being inserted fill."""
        out: list[tuple[str, str]] = []
        for name, spec in specs.items():
            info = self.fields[name]
            out.append((quote_ident(info.column), spec.sql))
            if info.ms_column:
                out.append((quote_ident(info.ms_column), date_ms_sql(spec.sql, spec.is_list)))
        return out

    @staticmethod
    def _save_fields(con: duckdb.DuckDBPyConnection, infos: Sequence[FieldInfo]) -> None:
        # One statement: a document with a hundred new fields (an alert) costs one round trip.
        if not infos:
            return
        con.execute(
            "INSERT OR REPLACE INTO event_fields (field, col, kind, is_list, ms_col) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?)"] * len(infos)),
            [v for i in infos for v in (i.name, i.column, i.kind, i.is_list, i.ms_column)],
        )


def _sql_type(kind: ColumnKind, is_list: bool) -> str:
    return FieldInfo(name="", column="", kind=kind, is_list=is_list).sql_type


def _free_name(name: str, taken: set[str]) -> str:
    # DuckDB matches column names case-insensitively; Elasticsearch fields are case-sensitive.
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}#{n}"
    return candidate
