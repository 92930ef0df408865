"""runner: scheduled Elastic Security detection rules, on Elasticsearch or an embedded store."""

__version__ = "0.1.0"
