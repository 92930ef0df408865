"""SQL macros giving DuckDB Elasticsearch's value semantics (dates, EQL functions, IPs).

Kept in the store file (plain SQL, so any DuckDB opens it) and created again only when their
text changes (the store keeps a digest of :data:`MACROS`): creating them on every connection
would cost each operation tens of milliseconds.
Python UDFs are not used: DuckDB's need numpy, which the runner does not depend on.
"""

from __future__ import annotations

import duckdb

__all__ = ["MACROS", "install"]

MACROS: tuple[str, ...] = (
    # Elasticsearch's default date format `strict_date_optional_time||epoch_millis`, as epoch
    # milliseconds (regular expressions, which cost, only for the less usual forms).  A 4-digit
    # string is a year (the date format is tried first); any other all-digit string is epoch
    # millis.  DuckDB's ISO cast is a little more lenient than
    # `strict_date_optional_time` (it also takes a space before the time).
    r"""es_date_ms(s) AS (
        CASE
            WHEN s IS NULL THEN NULL
            -- Fast path, same result: with a time (`:` after `YYYY-MM-DDTHH`) none of the
            -- patterns below can match, so it is the general ISO cast.
            WHEN substr(s, 14, 1) = ':' THEN epoch_ms(TRY_CAST(s AS TIMESTAMPTZ))
            WHEN regexp_full_match(s, '[0-9]{4}')
                THEN epoch_ms(make_timestamp(TRY_CAST(s AS INT), 1, 1, 0, 0, 0))
            WHEN regexp_full_match(s, '[0-9]{4}-[0-9]{2}')
                THEN epoch_ms(TRY_CAST(s || '-01' AS TIMESTAMPTZ))
            WHEN regexp_full_match(s, '-?[0-9]+(\.[0-9]+)?')
                THEN floor(TRY_CAST(s AS DOUBLE))::BIGINT
            WHEN regexp_full_match(s, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}(Z|[+-].*)?')
                THEN epoch_ms(TRY_CAST(regexp_replace(s, '(T[0-9]{2})', '\1:00') AS TIMESTAMPTZ))
            ELSE epoch_ms(TRY_CAST(s AS TIMESTAMPTZ))
        END
    )""",
    # A JSON number's text as BIGINT only when it is integral (DuckDB's cast would round 1.5).
    r"""es_long(v) AS (
        CASE WHEN v <> '' AND v <> '-' AND ltrim(v, '-0123456789') = '' THEN TRY_CAST(v AS BIGINT)
        END
    )""",
    r"""es_double(v) AS (TRY_CAST(v AS DOUBLE))""",
    # A LIST value as Elasticsearch sees it: null elements dropped, an empty array is missing.
    r"""es_list(l) AS (
        CASE WHEN len(list_filter(l, lambda x: x IS NOT NULL)) > 0
             THEN list_filter(l, lambda x: x IS NOT NULL) END
    )""",
    r"""es_count(s, p) AS ((strlen(s) - strlen(replace(s, p, ''))) // strlen(p))""",
    # Object keys in a JSON text: `":` pairs, minus those inside strings (`\":`) and keys whose
    # value is null (a null is no value, so the loader's shape never counts it).
    r"""es_keycount(s) AS (
        es_count(s, '":')
        - CASE WHEN contains(s, '\":') THEN es_count(s, '\":') ELSE 0 END
        - CASE WHEN contains(s, 'null') THEN es_count(s, '":null') + es_count(s, '": null')
               ELSE 0 END
    )""",
    r"""es_bool(v) AS (CASE v WHEN 'true' THEN true WHEN 'false' THEN false END)""",
    # Last 1-based position of `sub` in `s` (0 when absent).
    r"""eql_rpos(s, sub) AS (
        CASE WHEN strpos(reverse(s), reverse(sub)) = 0 THEN 0
             ELSE length(s) - strpos(reverse(s), reverse(sub)) - length(sub) + 2 END
    )""",
    # between(source, left, right, greedy): text after the first `left` and before the next
    # (greedy: the last) `right`; "" when either is absent.
    r"""eql_between_at(s, ss, ll, rr, greedy) AS (
        CASE
            WHEN strpos(ss, ll) = 0 THEN ''
            WHEN (CASE WHEN greedy THEN eql_rpos(ss[strpos(ss, ll) + length(ll):], rr)
                       ELSE strpos(ss[strpos(ss, ll) + length(ll):], rr) END) = 0 THEN ''
            ELSE substr(s, strpos(ss, ll) + length(ll),
                        (CASE WHEN greedy THEN eql_rpos(ss[strpos(ss, ll) + length(ll):], rr)
                              ELSE strpos(ss[strpos(ss, ll) + length(ll):], rr) END) - 1)
        END
    )""",
    r"""eql_between(s, l, r, greedy, ci) AS (
        CASE WHEN s IS NULL OR l IS NULL OR r IS NULL OR greedy IS NULL THEN NULL
             WHEN ci THEN eql_between_at(s, lower(s), lower(l), lower(r), greedy)
             ELSE eql_between_at(s, s, l, r, greedy) END
    )""",
    # indexOf(source, sub, start): 0-based position at or after `start`, null when absent.
    r"""eql_index_of_at(ss, sub, st) AS (
        CASE
            WHEN st > length(ss) THEN (CASE WHEN sub = '' THEN length(ss) END)
            WHEN strpos(ss[st + 1:], sub) = 0 THEN NULL
            ELSE strpos(ss[st + 1:], sub) - 1 + st
        END
    )""",
    r"""eql_index_of(s, sub, st, ci) AS (
        CASE WHEN s IS NULL OR sub IS NULL THEN NULL
             WHEN ci THEN eql_index_of_at(lower(s), lower(sub), greatest(coalesce(st, 0), 0))
             ELSE eql_index_of_at(s, sub, greatest(coalesce(st, 0), 0)) END
    )""",
    # substring(source, start, end) with Python slice semantics (negative counts from the end).
    r"""eql_slice_bound(i, n) AS (
        CASE WHEN i < 0 THEN greatest(i + n, 0) ELSE least(i, n) END
    )""",
    r"""eql_substring(s, st, en) AS (
        CASE
            WHEN s IS NULL OR st IS NULL THEN NULL
            WHEN eql_slice_bound(st, length(s))
                 >= eql_slice_bound(coalesce(en, length(s)), length(s)) THEN ''
            ELSE substr(s, eql_slice_bound(st, length(s)) + 1,
                        eql_slice_bound(coalesce(en, length(s)), length(s))
                        - eql_slice_bound(st, length(s)))
        END
    )""",
    # Java's integer division and remainder both truncate toward zero, as DuckDB's // and %.
    r"""eql_idiv(a, b) AS (CASE WHEN b = 0 THEN NULL ELSE a // b END)""",
    r"""eql_fdiv(a, b) AS (CASE WHEN b = 0 THEN NULL ELSE a::DOUBLE / b END)""",
    r"""eql_mod(a, b) AS (CASE WHEN b = 0 THEN NULL ELSE a % b END)""",
    # number(s, base): base 10 parses decimals, other bases integers; "0x" implies base 16.
    r"""eql_number(s, base) AS (
        CASE
            WHEN s IS NULL THEN NULL
            WHEN coalesce(base, CASE WHEN starts_with(s, '0x') THEN 16 ELSE 10 END) = 10
                THEN CASE WHEN regexp_full_match(s, '-?[0-9]+') THEN TRY_CAST(s AS BIGINT)::DOUBLE
                          WHEN regexp_full_match(
                                  s, '-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')
                              THEN TRY_CAST(s AS DOUBLE) END
            WHEN coalesce(base, 16) = 16
                THEN eql_parse_radix(CASE WHEN starts_with(s, '0x') THEN s[3:] ELSE s END, 16)
            ELSE eql_parse_radix(s, base)
        END
    )""",
    r"""eql_parse_radix(s, base) AS (
        CASE
            WHEN s = '' OR s = '-' OR base < 2 OR base > 36 THEN NULL
            WHEN list_bool_and(list_transform(
                    string_split(lower(ltrim(s, '-')), ''),
                    lambda c: strpos(substr('0123456789abcdefghijklmnopqrstuvwxyz', 1, base), c)
                              > 0))
                THEN (CASE WHEN starts_with(s, '-') THEN -1 ELSE 1 END) * list_reduce(
                    list_transform(string_split(lower(ltrim(s, '-')), ''),
                        lambda c: (strpos('0123456789abcdefghijklmnopqrstuvwxyz', c) - 1)::DOUBLE),
                    lambda acc, d: acc * base + d)
        END
    )""",
    # An IP address as 32 lowercase hex digits; IPv4 as its IPv4-mapped IPv6 form, as the
    # `ip` field type stores it.  NULL when not an address.  Sub-results are bound once with
    # `list_transform([x], lambda v: ...)[1]`: a macro used twice would be expanded twice.
    r"""eql_ipv4_hex(s) AS (
        CASE WHEN regexp_full_match(s, '([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})')
             THEN list_transform(
                 [list_transform(string_split(s, '.'), lambda o: TRY_CAST(o AS INT))],
                 lambda q: CASE WHEN list_bool_and(list_transform(q, lambda o: o <= 255))
                     THEN '00000000000000000000ffff' || array_to_string(
                         list_transform(q, lambda o: lpad(lower(hex(o)), 2, '0')), '') END)[1]
        END
    )""",
    r"""eql_ipv6_groups(s) AS (
        list_transform([string_split(s, '::')], lambda p:
            CASE
                WHEN len(p) = 1 THEN string_split(p[1], ':')
                WHEN len(p) = 2 THEN list_transform(
                    [[CASE WHEN p[1] = '' THEN []::VARCHAR[] ELSE string_split(p[1], ':') END,
                      CASE WHEN p[2] = '' THEN []::VARCHAR[] ELSE string_split(p[2], ':') END]],
                    lambda ht: list_concat(list_concat(ht[1], list_transform(
                        range(greatest(8 - len(ht[1]) - len(ht[2]), 0)), lambda z: '0')), ht[2]))[1]
            END)[1]
    )""",
    r"""eql_ipv6_hex(s) AS (
        CASE WHEN regexp_full_match(s, '[0-9a-fA-F:]{2,39}')
             THEN list_transform([eql_ipv6_groups(lower(s))], lambda g:
                 CASE WHEN len(g) = 8
                           AND list_bool_and(list_transform(g, lambda x: length(x) BETWEEN 1 AND 4))
                      THEN array_to_string(list_transform(g, lambda x: lpad(x, 4, '0')), '')
                 END)[1]
        END
    )""",
    r"""eql_ip_hex(s) AS (
        CASE WHEN s IS NULL THEN NULL
             WHEN contains(s, ':') THEN eql_ipv6_hex(split_part(s, '%', 1))
             ELSE eql_ipv4_hex(s) END
    )""",
    # Whether a hex address lies in any [low, high] range (false when it does not parse).
    r"""eql_cidr_in(h, ranges) AS (
        coalesce(list_bool_or(list_transform(ranges, lambda r: h BETWEEN r[1] AND r[2])), false)
    )""",
)


def install(con: duckdb.DuckDBPyConnection, *, temporary: bool = False) -> None:
    """Create (or refresh) the macros: in the store file, or on this connection only."""
    kind = "TEMP MACRO" if temporary else "MACRO"
    con.execute(";\n".join(f"CREATE OR REPLACE {kind} {body}" for body in MACROS))
