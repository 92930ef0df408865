"""EQL single-event semantics (SEMANTICS §3), each rule on a small hand-made event set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runner.embedded.store import Store
from runner.errors import QueryError
from runner.search import TimeRange
from tests.embedded.conftest import BASE, Eql, Loader, at

NAMES = [
    {"n": 1, "event": {"category": "process"}, "name": "cmd.exe", "path": "C:\\Windows\\cmd.exe"},
    {"n": 2, "event": {"category": "process"}, "name": "CMD.EXE", "path": "c:\\windows\\CMD.EXE"},
    {"n": 3, "event": {"category": "process"}, "name": "cmd.exe.bak", "path": "/a/b/c.exe"},
    {"n": 4, "event": {"category": "process"}, "name": "xcmd.exe", "path": "/usr/bin/x"},
]


@pytest.fixture
def names(load: Loader) -> None:
    load(NAMES)


@pytest.mark.usefixtures("names")
class TestCaseRules:
    def test_double_equals_is_case_sensitive(self, eql: Eql) -> None:
        assert eql('process where name == "cmd.exe"') == [1]

    def test_colon_is_case_insensitive_whole_value(self, eql: Eql) -> None:
        assert eql('process where name : "cmd.exe"') == [1, 2]

    def test_colon_wildcards(self, eql: Eql) -> None:
        assert eql('process where name : "cmd*"') == [1, 2, 3]
        assert eql('process where name : "?cmd.exe"') == [4]
        assert eql('process where path : "/a*.exe"') == [3]  # * crosses /
        assert eql('process where path : "c:\\\\windows\\\\*"') == [1, 2]

    def test_in_is_exact_and_in_tilde_ignores_case_without_wildcards(self, eql: Eql) -> None:
        assert eql('process where name in ("cmd.exe", "nope")') == [1]
        assert eql('process where name in~ ("CMD.exe")') == [1, 2]
        assert eql('process where name in~ ("cmd*")') == []
        assert eql('process where name not in ("cmd.exe")') == [2, 3, 4]

    def test_like_and_like_tilde(self, eql: Eql) -> None:
        assert eql('process where name like "cmd.*"') == [1, 3]
        assert eql('process where name like~ "cmd.*"') == [1, 2, 3]

    def test_regex_is_lucene_over_the_whole_value(self, eql: Eql) -> None:
        assert eql('process where name regex "cmd\\\\.exe"') == [1]
        assert eql('process where name regex "cmd"') == []  # anchored
        assert eql('process where name regex~ "CMD\\\\.EXE"') == [1, 2]
        assert eql('process where name regex "[a-z]+\\\\.exe(\\\\.bak)?"') == [1, 3, 4]

    def test_string_ordering_is_bytewise(self, eql: Eql) -> None:
        assert eql('process where name >= "cmd" and name < "cmd.exf"') == [1, 3]


def test_lucene_regex_specifics(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "s": "^a$"}, {"n": 2, "s": "line1\nline2"}, {"n": 3, "s": "abc"}])
    assert eql('any where s regex "^a$"') == [1]  # ^ and $ are plain characters
    assert eql('any where s regex "line1.line2"') == [2]  # . matches a newline
    assert eql('any where s regex "a@"') == [3]  # @: any string
    assert eql('any where s regex "\\"abc\\""') == [3]  # quoted literal
    with pytest.raises(QueryError, match="complement"):
        eql('any where s regex "~a"')


def test_arrays_match_when_any_value_does(load: Loader, eql: Eql) -> None:
    load(
        [
            {"n": 1, "event": {"category": ["process", "file"], "type": ["start", "change"]}},
            {"n": 2, "event": {"category": ["file"], "type": ["deletion", "change"]}},
            {"n": 3, "event": {"category": "process", "type": "end"}},
        ]
    )
    assert eql("process where true") == [1, 3]
    assert eql('file where event.type == "change"') == [1, 2]
    assert eql('any where event.type : "START"') == [1]
    assert eql('any where event.type in ("end", "deletion")') == [2, 3]
    assert eql('any where event.type regex "del.*"') == [2]
    assert eql('any where startsWith(event.type, "dele")') == [2]
    # != on a multi-valued field: no value may be equal.
    assert eql('any where event.type != "change"') == [3]


def test_event_category_field_override_and_any(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "kind": "proc"}, {"n": 2, "event": {"category": "proc"}}, {"n": 3}])
    assert eql("proc where true", event_category_field="kind") == [1]
    assert eql("proc where true") == [2]
    assert eql("any where true") == [1, 2, 3]


def test_missing_fields_are_null_and_never_match(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "code": 0}, {"n": 2, "code": 5}, {"n": 3}])
    assert eql("any where code >= 0") == [1, 2]
    assert eql("any where code < 1") == [1]
    assert eql("any where not (code > 1)") == [1]  # 3 lacks code: null even under not
    assert eql("any where code != 5") == [1]
    assert eql("any where code == null") == [3]
    assert eql("any where code != null") == [1, 2]
    assert eql("any where null == (code > 1)") == [3]
    assert eql("any where code > 1 or n == 3") == [2, 3]


def test_optional_fields(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "a": "x"}, {"n": 2}])
    assert eql("any where ?unknown == null") == [1, 2]
    assert eql('any where ?unknown == "x"') == []
    assert eql("any where ?unknown") == []
    assert eql('any where ?a == "x"') == [1]


def test_functions(load: Loader, eql: Eql) -> None:
    load(
        [
            {"n": 1, "f": "C:\\Windows\\System32\\cmd.exe", "i": 7, "ip": "10.1.2.3"},
            {"n": 2, "f": "explorer.exe", "i": -7, "ip": "192.168.0.1"},
            {"n": 3, "f": None, "i": None, "ip": "fe80::1"},
        ]
    )
    assert eql('any where between(f, "System32\\\\", ".exe") == "cmd"') == [1]
    assert eql('any where between(f, "system32\\\\", ".exe") == ""') == [1, 2]
    assert eql('any where between~(f, "system32\\\\", ".exe") == "cmd"') == [1]
    assert eql('any where cidrMatch(ip, "10.0.0.0/8", "fe80::/10")') == [1, 3]
    assert eql('any where concat(f, "-", i) == "explorer.exe--7"') == [2]
    assert eql("any where concat(f, i) == null") == [3]
    assert eql('any where endsWith(f, ".EXE")') == []
    assert eql('any where endsWith~(f, ".EXE")') == [1, 2]
    assert eql('any where startsWith~(f, "c:")') == [1]
    assert eql('any where stringContains~(f, "system32")') == [1]
    assert eql('any where indexOf(f, "plorer") == 2') == [2]
    assert eql('any where indexOf(f, "nothing") == null and f != null') == [1, 2]
    assert eql("any where length(f) == 12") == [2]
    assert eql('any where number("0x10", 16) == 16 and n == 1') == [1]
    assert eql("any where number(string(i)) == -7") == [2]
    assert eql('any where string(i) == "7"') == [1]
    assert eql('any where substring(f, -4) == ".exe"') == [1, 2]
    assert eql('any where substring(f, 0, 3) == "exp"') == [2]
    assert eql("any where add(i, 1) == 8 and subtract(i, 1) == 6 and multiply(i, 2) == 14") == [1]
    assert eql("any where divide(i, 2) == 3") == [1]  # integer division
    assert eql("any where divide(i, 2) == -3") == [2]  # truncates toward zero, as Java
    assert eql("any where divide(i, 2.0) == 3.5") == [1]
    assert eql("any where modulo(i, 4) == -3") == [2]
    assert eql("any where i / 0 == null and i != null") == [1, 2]


def test_functions_read_the_first_value_of_arrays(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "tags": ["b", "a"]}])
    assert eql('any where concat(tags, "") == "a"') == [1]  # doc values are sorted: "a" first
    assert eql('any where tags == "b"') == [1]  # but a query matches any value


def test_ordering_timestamp_then_tiebreaker_then_load_order(load: Loader, eql: Eql) -> None:
    same = at(5)
    load(
        [
            {"n": 1, "@timestamp": same, "seq": 3},
            {"n": 2, "@timestamp": same, "seq": 1},
            {"n": 3, "@timestamp": at(1), "seq": 9},
            {"n": 4, "@timestamp": same, "seq": 2},
        ]
    )
    assert eql("any where true", tiebreaker_field="seq") == [3, 2, 4, 1]
    assert eql("any where true") == [3, 1, 2, 4]


def test_head_tail_size_and_position(load: Loader, eql: Eql) -> None:
    load([{"n": n} for n in range(1, 11)])
    assert eql("any where true | head 3") == [1, 2, 3]
    assert eql("any where true | tail 3") == [8, 9, 10]
    assert eql("any where true | head 6 | tail 2") == [5, 6]
    assert eql("any where true", size=4) == [7, 8, 9, 10]  # default position: tail
    assert eql("any where true", size=4, result_position="head") == [1, 2, 3, 4]
    assert eql("any where true | head 5", size=2) == [4, 5]


def test_index_patterns(load: Loader, eql: Eql) -> None:
    load([{"n": 1}], index="logs-endpoint.events.process-default")
    load([{"n": 2}], index="logs-endpoint.events.file-default")
    load([{"n": 3}], index="winlogbeat-8")
    load([{"n": 4}], index=".hidden")
    assert eql("any where true", indices=("logs-endpoint.events.process*",)) == [1]
    assert eql("any where true", indices=("logs-endpoint.events.*", "winlogbeat-*")) == [1, 2, 3]
    assert eql("any where true", indices=("logs-*,winlogbeat-*",)) == [1, 2, 3]
    assert eql("any where true", indices=("*", "-winlogbeat-*")) == [1, 2]
    assert eql("any where true", indices=("nope-*",)) == []
    assert eql("any where true") == [1, 2, 3, 4]


def test_backing_indices_answer_their_data_streams_patterns(load: Loader, eql: Eql) -> None:
    # Exported hits carry the backing index; the rule names the data stream.
    load([{"n": 1}], index=".ds-logs-endpoint.events.process-default-2024.05.01-000001")
    load([{"n": 2}], index="logs-endpoint.events.process-default")
    load([{"n": 3}], index=".ds-.hidden-stream-2024.05.01-000002")
    load([{"n": 4}], index=".ds-not-a-backing-index")
    assert eql("any where true", indices=("logs-endpoint.events.process*",)) == [1, 2]
    assert eql("any where true", indices=("logs-endpoint.events.process-default",)) == [1, 2]
    assert eql("any where true", indices=("*",)) == [1, 2]
    assert eql("any where true", indices=("*", "-logs-endpoint.events.*")) == []
    assert eql("any where true", indices=(".ds-logs-*",)) == [1]
    assert eql("any where true", indices=("logs-endpoint.events.file*",)) == []


def test_time_range_with_fallback_field(load: Loader, eql: Eql) -> None:
    load(
        [
            {"n": 1, "@timestamp": at(1), "event": {"ingested": at(100)}},
            {"n": 2, "@timestamp": at(100), "event": {"ingested": at(2)}},
            {"n": 3, "@timestamp": at(3)},
            {"n": 4, "@timestamp": at(100)},
        ]
    )
    window = TimeRange(start=BASE, end=BASE + timedelta(seconds=10))
    assert eql("any where true", time_range=window) == [1, 3]
    overridden = TimeRange(
        field="event.ingested", fallback="@timestamp", start=window.start, end=window.end
    )
    assert eql("any where true", time_range=overridden) == [3, 2]


def test_dsl_filters_apply(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "user": "root"}, {"n": 2, "user": "bob"}, {"n": 3}])
    exception = {"bool": {"must_not": {"term": {"user": "root"}}}}
    assert eql("any where true", filters=(exception,)) == [2, 3]


def test_timestamp_compares_as_a_date(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "@timestamp": "2024-05-01T12:00:00Z"}, {"n": 2, "@timestamp": 1714564801000}])
    assert eql('any where @timestamp == "2024-05-01T12:00:00Z"') == [1]
    assert eql("any where @timestamp > 1714564800000") == [2]


def test_semantic_errors_carry_a_position(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "s": "x"}])
    with pytest.raises(QueryError) as caught:
        eql('any where s regex "a&b"')
    assert caught.value.line == 1 and caught.value.column > 1
    with pytest.raises(QueryError, match="boolean"):
        eql("any where s")


def test_date_fields_get_an_epoch_ms_column_that_tracks_their_values(
    store: Store, load: Loader, eql: Eql
) -> None:
    """A field whose values look like dates gets a BIGINT twin (ms_col) for timestamp use;
    searches through it give what parsing the text per row gives, also after a widening."""
    load(
        [
            {"n": 1, "@timestamp": at(1), "event": {"ingested": at(30)}},
            {"n": 2, "@timestamp": at(2), "event": {"ingested": at(20)}},
        ]
    )
    with store.connect() as con:
        twin = con.execute(
            "SELECT ms_col FROM event_fields WHERE field = 'event.ingested'"
        ).fetchone()
    assert twin == ("event.ingested#ms",)
    assert eql("any where true", timestamp_field="event.ingested") == [2, 1]
    # Later documents widen it to a list (a script reads the smallest value) and add a number.
    load(
        [
            {"n": 3, "@timestamp": at(3), "event": {"ingested": [at(25), at(10)]}},
            {"n": 4, "@timestamp": at(4), "event": {"ingested": 1714564815000}},  # at(15)
        ]
    )
    assert eql("any where true", timestamp_field="event.ingested") == [3, 4, 2, 1]
    window = TimeRange(
        field="event.ingested",
        fallback="@timestamp",
        start=BASE + timedelta(seconds=12),
        end=BASE + timedelta(seconds=22),
    )
    assert eql("any where true", time_range=window) == [2, 4]  # ordered by @timestamp


def test_a_migrated_legacy_phrase_filter_applies(load: Loader, eql: Eql) -> None:
    from runner.rules.filters import filter_query

    load([{"n": 1, "user": "root"}, {"n": 2, "user": "bob"}, {"n": 3, "user": "Root"}])
    legacy = {"query": {"match": {"user": {"query": "root", "type": "phrase"}}}}
    assert eql("any where true", filters=(dict(filter_query(legacy)),)) == [1]
