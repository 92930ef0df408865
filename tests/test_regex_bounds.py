"""Lucene accepts a repetition whose maximum is below its minimum and matches nothing."""

from runner.embedded.patterns import lucene_to_re2


def test_inverted_repetition_bounds_match_nothing_instead_of_failing() -> None:
    import re

    pattern = lucene_to_re2("ba{3,1}c")
    assert re.fullmatch(pattern, "bc") is None
    assert re.fullmatch(pattern, "baaac") is None
    assert re.fullmatch(lucene_to_re2("ba{1,3}c"), "baac") is not None
