"""The ``both`` fixture: embedded store and Elasticsearch backend (tests/both.py)."""

from tests.both import both, quiet_logs

__all__ = ["both", "quiet_logs"]
