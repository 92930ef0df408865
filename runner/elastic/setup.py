"""``runner setup``: index templates and indices for alerts, executions, run state, gaps and
value lists.

Idempotent: a template that is missing or older than ours is (re)written, an index that
exists is left alone.  Alert mappings follow Kibana's alert fields (``kibana.alert.*``);
copied ECS fields are mapped dynamically, strings as ``keyword``.

When the alerts index is an alias (Kibana's ``.alerts-security.alerts-<space>``, which Kibana
creates with its own templates and mappings; a data stream of that name on serverless),
runner installs nothing for it: its template
would not apply to Kibana's concrete index, and creating an index of that name would take the
name Kibana needs.  A Kibana alias that does not exist yet is an error naming the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from runner.daemon.leases_elastic import MAPPINGS as LEASE_MAPPINGS
from runner.elastic.client import ElasticClient
from runner.elastic.errors import api_error
from runner.elastic.store import IndexNames
from runner.errors import IndexNotFound
from runner.lists.elasticsearch import LIST_FIELDS
from runner.notify.outbox.elastic import MAPPINGS as OUTBOX_MAPPINGS

# 2: outbox; 3: value lists, suppression fields; 4: typed as the OpenAPI spec; 5: leases index
TEMPLATE_VERSION = 5
SETTINGS = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}  # serverless ignores shards

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_LONG = {"type": "long"}
_STORED = {"type": "keyword", "index": False, "doc_values": False}  # kept in _source only

ALERT_FIELDS: dict[str, dict[str, Any]] = {
    "@timestamp": _DATE,
    "event.kind": _KEYWORD,
    "event.ingested": _DATE,
    "event.created": _DATE,
    "kibana.alert.uuid": _KEYWORD,
    "kibana.alert.status": _KEYWORD,
    "kibana.alert.workflow_status": _KEYWORD,
    "kibana.alert.severity": _KEYWORD,
    "kibana.alert.risk_score": {"type": "float"},
    "kibana.alert.reason": {"type": "keyword", "ignore_above": 8191,
                            "fields": {"text": {"type": "match_only_text"}}},
    "kibana.alert.original_time": _DATE,
    "kibana.alert.depth": _LONG,
    "kibana.alert.building_block_type": _KEYWORD,
    "kibana.alert.group.id": _KEYWORD,
    "kibana.alert.group.index": {"type": "integer"},
    "kibana.alert.new_terms": _KEYWORD,
    "kibana.alert.instance.id": _KEYWORD,
    "kibana.alert.start": _DATE,
    "kibana.alert.last_detected": _DATE,
    "kibana.alert.suppression.start": _DATE,
    "kibana.alert.suppression.end": _DATE,
    "kibana.alert.suppression.docs_count": _LONG,
    "kibana.alert.suppression.terms.field": _KEYWORD,
    "kibana.alert.suppression.terms.value": _KEYWORD,
    "kibana.alert.ancestors.id": _KEYWORD,
    "kibana.alert.ancestors.index": _KEYWORD,
    "kibana.alert.ancestors.type": _KEYWORD,
    "kibana.alert.ancestors.depth": _LONG,
    "kibana.alert.original_event.ingested": _DATE,
    "kibana.alert.original_event.created": _DATE,
    "kibana.alert.rule.rule_id": _KEYWORD,
    "kibana.alert.rule.uuid": _KEYWORD,
    "kibana.alert.rule.name": _KEYWORD,
    "kibana.alert.rule.type": _KEYWORD,
    "kibana.alert.rule.description": {"type": "keyword", "ignore_above": 8191},
    "kibana.alert.rule.severity": _KEYWORD,
    "kibana.alert.rule.risk_score": {"type": "float"},
    "kibana.alert.rule.from": _KEYWORD,
    "kibana.alert.rule.interval": _KEYWORD,
    "kibana.alert.rule.max_signals": _LONG,
    "kibana.alert.rule.tags": _KEYWORD,
    "kibana.alert.rule.references": _KEYWORD,
    "kibana.alert.rule.index": _KEYWORD,
    "kibana.alert.rule.language": _KEYWORD,
    "kibana.alert.rule.query": _STORED,
    "kibana.alert.rule.note": _STORED,
    "kibana.alert.rule.threat": {"type": "object"},
}  # fmt: skip

EXECUTION_FIELDS: dict[str, dict[str, Any]] = {
    "@timestamp": _DATE,
    "execution_id": _KEYWORD,
    "rule_id": _KEYWORD,
    "rule_name": _KEYWORD,
    "started_at": _DATE,
    "ended_at": _DATE,
    "window_start": _DATE,
    "window_end": _DATE,
    "status": _KEYWORD,
    "message": {"type": "match_only_text"},
    "search_ms": _LONG,
    "index_ms": _LONG,
    "candidates": _LONG,
    "alerts_created": _LONG,
    "duplicates": _LONG,
    "capped": {"type": "boolean"},
    "gap_seconds": {"type": "double"},
    "catch_up": {"type": "boolean"},
    "backend": _KEYWORD,
    "extra": {"type": "object", "enabled": False},
}

STATE_FIELDS: dict[str, dict[str, Any]] = {
    "rule_id": _KEYWORD,
    "last_start": _DATE,
    "covered_to": _DATE,
    "last_status": _KEYWORD,
    "last_message": _STORED,
}

GAP_FIELDS: dict[str, dict[str, Any]] = {
    "rule_id": _KEYWORD,
    "gap_start": _DATE,
    "gap_end": _DATE,
}


def properties(flat: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"a.b": m}`` -> ``{"a": {"properties": {"b": m}}}`` (mappings are nested objects)."""
    root: dict[str, Any] = {}
    for dotted, mapping in flat.items():
        node = root
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {}).setdefault("properties", {})
        node[leaf] = dict(mapping)
    return root


def alert_mappings() -> dict[str, Any]:
    return {
        "dynamic": "true",
        "date_detection": True,
        "dynamic_templates": [
            {
                "strings_as_keyword": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": 1024},
                }
            }
        ],
        "properties": properties(ALERT_FIELDS),
        "_meta": {"managed_by": "runner", "version": TEMPLATE_VERSION},
    }


def strict_mappings(flat: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fixed fields; unknown ones are kept in ``_source`` but not indexed."""
    return {
        "dynamic": "false",
        "properties": properties(flat),
        "_meta": {"managed_by": "runner", "version": TEMPLATE_VERSION},
    }


def templates(names: IndexNames) -> list[tuple[str, dict[str, Any]]]:
    """``(index, template body)`` for each of the runner's indices (template named as it)."""
    mappings = {
        names.alerts: alert_mappings(),
        names.executions: strict_mappings(EXECUTION_FIELDS),
        names.state: strict_mappings(STATE_FIELDS),
        names.gaps: strict_mappings(GAP_FIELDS),
        names.outbox: OUTBOX_MAPPINGS,
        names.lists: strict_mappings(LIST_FIELDS),
        names.leases: LEASE_MAPPINGS,
    }
    return [
        (
            index,
            {
                "index_patterns": [index],
                "priority": 200,
                "template": {"settings": SETTINGS, "mappings": body},
                "_meta": {"managed_by": "runner", "version": TEMPLATE_VERSION},
            },
        )
        for index, body in mappings.items()
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class SetupStep:
    kind: Literal["index template", "index"]
    name: str
    action: Literal["created", "updated", "exists"]


KIBANA_ALERTS_PREFIX = ".alerts-security.alerts-"


def kibana_owned(client: ElasticClient, name: str) -> bool:
    """Whether ``name`` is an alias (Kibana's alerts index on a stateful cluster) or a data
    stream (on serverless, Kibana's alerts live in one): runner installs nothing for it."""
    if name.startswith(KIBANA_ALERTS_PREFIX):
        stream = client.request("GET", f"/_data_stream/{name}", allow=(404,))
        if stream.status == 200 and stream.body.get("data_streams"):
            return True
    return client.request("GET", f"/_alias/{name}", allow=(404,)).status == 200


def ensure(client: ElasticClient, names: IndexNames) -> list[SetupStep]:
    """Create what is missing; report each template and index as created/updated/exists."""
    steps: list[SetupStep] = []
    owned = templates(names)
    if kibana_owned(client, names.alerts):
        owned = [(index, body) for index, body in owned if index != names.alerts]
        steps.append(SetupStep(kind="index", name=names.alerts, action="exists"))
    elif names.alerts.startswith(KIBANA_ALERTS_PREFIX):
        raise IndexNotFound(
            f"alerts index {names.alerts} is Kibana's alias and does not exist yet: open "
            "Kibana's Security app once (Kibana creates it), or set [alerts] index to an index "
            "of runner's own"
        )
    for index, body in owned:
        path = f"/_index_template/{index}"
        current = client.request("GET", path, allow=(404,))
        version = None
        if current.status == 200:
            found = current.body.get("index_templates") or [{}]
            version = (found[0].get("index_template", {}).get("_meta") or {}).get("version")
        if current.status == 200 and version == TEMPLATE_VERSION:
            steps.append(SetupStep(kind="index template", name=index, action="exists"))
        else:
            client.request("PUT", path, body)
            action: Literal["created", "updated"] = (
                "updated" if current.status == 200 else "created"
            )
            steps.append(SetupStep(kind="index template", name=index, action=action))
    for index, _ in owned:
        response = client.request("PUT", f"/{index}", {}, allow=(400,))
        created = response.status == 200
        if not created and "resource_already_exists_exception" not in str(response.body):
            raise api_error(response.status, response.body, target=f"PUT /{index}")
        steps.append(SetupStep(kind="index", name=index, action="created" if created else "exists"))
    return steps


def cluster_version(client: ElasticClient) -> str | None:
    """The cluster's version from ``GET /`` (None when the credentials may not read it)."""
    response = client.request("GET", "/", allow=(403,))
    if response.status != 200:
        return None
    version = (response.body.get("version") or {}).get("number")
    return str(version) if version else None
