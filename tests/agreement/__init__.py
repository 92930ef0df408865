"""Cross-backend agreement over Elastic's public rules (issue #11).

For each rule, :mod:`.cases` builds events from the rule's own syntax tree (matches, near
misses, new_terms history); :mod:`.run` runs the rule over them on the embedded store and on
the Elasticsearch backend against the engine-backed stand-in, and compares the alerts.  It is
test tooling (it needs the stand-in in ``tests/elastic``), run by ``tests/test_agreement.py``
and ``scripts/agreement.py``.
"""
