"""The loader's coverage check: did the shape account for every key and value of a row?

Rows are parsed natively against the shape learnt so far; this check decides cheaply which
rows might hold something it lacks (a new key, an array where a scalar was seen...), so only
those are walked in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.embedded.fields import grouped_producers, lambda_var, quote_ident
from runner.embedded.shape import Shape

__all__ = ["check_sql"]


def check_sql(shape: Shape, row: str = "d", source: str = "src") -> str:
    """A boolean SQL expression, true when the row may hold something the shape lacks.

    Compares the keys and arrays the transformed row kept with the ``":`` pairs and ``[``
    characters of the raw text (an object or array landing where the shape expected a scalar
    shows up as an extra key or bracket).  A flagged row is only *suspect*: the loader walks
    it in Python to decide (strings holding those characters only cost that walk).
    """
    keys: list[str] = []
    arrays: list[str] = []
    flags: list[str] = []
    _check(shape, row, False, 0, _Tally(keys=keys, arrays=arrays, flags=flags))
    for name, producers in grouped_producers(shape, row).items():
        scalar = [p for p in producers if not p.is_list]
        if len(scalar) > 1 and name not in shape.multi:
            present = " + ".join(f"({p.sql} IS NOT NULL)::INT" for p in scalar)
            flags.append(f"({present}) > 1")
    expected_keys = " + ".join(keys) if keys else "0"
    expected_arrays = " + ".join(arrays) if arrays else "0"
    flag_sql = "".join(f" OR {f}" for f in flags)
    return (
        f"(({expected_keys}) <> es_keycount({source})"
        f" OR ({expected_arrays}) <> es_count({source}, '['){flag_sql})"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Tally:
    keys: list[str]
    arrays: list[str]
    flags: list[str]


def _check(shape: Shape, expr: str, is_list: bool, depth: int, tally: _Tally) -> None:
    """Add SQL terms counting the keys and arrays ``expr`` holds, and flags for holes."""
    mode = shape.mode
    var = lambda_var(depth)
    if mode == "object":
        assert shape.obj is not None
        for key, child in shape.obj.items():
            if child.mode == "empty":
                continue
            if is_list:
                picked = f"list_transform({expr}, lambda {var}: {var}.{quote_ident(key)})"
                present = f"coalesce(list_count({picked}), 0)"
                tally.keys.append(present)
                if child.mode == "array":
                    tally.arrays.append(present)
                    _check(child, f"flatten({picked})", True, depth + 1, tally)
                else:
                    _check(child, picked, True, depth + 1, tally)
            else:
                sub = f"({expr}).{quote_ident(key)}"
                tally.keys.append(f"({sub} IS NOT NULL)::INT")
                if child.mode == "array":
                    tally.arrays.append(f"({sub} IS NOT NULL)::INT")
                _check(child, sub, child.mode == "array", depth + 1, tally)
        return
    if mode == "array":
        assert shape.arr is not None
        if shape.arr.mode == "object":
            # A scalar among objects becomes NULL: count holes (JSON nulls only cost a recheck).
            tally.flags.append(f"coalesce(list_count({expr}) <> len({expr}), false)")
        _check(shape.arr, expr, True, depth + 1, tally)
        return
    if mode == "json":
        if is_list:
            tally.keys.append(
                f"coalesce(list_sum(list_transform({expr}, lambda {var}: es_keycount({var}))), 0)"
            )
            tally.arrays.append(
                f"coalesce(list_sum(list_transform({expr}, lambda {var}: es_count({var}, '['))), 0)"
            )
            if shape.has_object():
                tally.flags.append(f"coalesce(len({expr}) > 0, false)")
        else:
            tally.keys.append(f"coalesce(es_keycount({expr}), 0)")
            tally.arrays.append(f"coalesce(es_count({expr}, '['), 0)")
            # Keys inside a mixed position cannot be checked against the shape here.
            if shape.has_object():
                tally.flags.append(f"({expr} IS NOT NULL)")
