"""An Elasticsearch stand-in whose answers are computed from a DuckDB store (engine_cluster)."""
