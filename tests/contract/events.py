"""ECS event builders for the contract suite: search hits with explicit ids."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from runner.timeutil import isoformat

PROCESS_INDEX = "logs-endpoint.events.process-default"
NETWORK_INDEX = "logs-endpoint.events.network-default"
FILE_INDEX = "logs-endpoint.events.file-default"


def hit(index: str, event_id: str, source: dict[str, Any]) -> dict[str, Any]:
    return {"_index": index, "_id": event_id, "_source": source}


def process(
    event_id: str,
    at: datetime,
    *,
    name: str = "bash",
    parent: str = "emond",
    os_type: str = "macos",
    event_type: str = "start",
    action: str = "exec",
    ingested: datetime | bool | None = True,
    host: str = "mac-01",
    entity_id: str | None = None,
    parent_entity_id: str | None = None,
    executable: str | None = None,
    user: str = "root",
) -> dict[str, Any]:
    """A process event; ``ingested=True`` means one second after ``at``, None leaves it out."""
    event: dict[str, Any] = {"category": ["process"], "type": [event_type], "action": action,
                             "kind": "event"}  # fmt: skip
    if ingested is True:
        event["ingested"] = isoformat(at + timedelta(seconds=1))
    elif isinstance(ingested, datetime):
        event["ingested"] = isoformat(ingested)
    return hit(
        PROCESS_INDEX,
        event_id,
        {
            "@timestamp": isoformat(at),
            "event": event,
            "host": {"id": f"id-{host}", "name": host, "os": {"type": os_type}},
            "user": {"name": user},
            "process": {
                "name": name,
                "executable": executable or f"/usr/bin/{name}",
                "entity_id": entity_id or f"ent-{event_id}",
                "parent": {"name": parent, "entity_id": parent_entity_id or f"pent-{event_id}"},
            },
        },
    )


def network(
    event_id: str, at: datetime, *, name: str = "curl", parent_entity_id: str, host: str = "mac-01"
) -> dict[str, Any]:
    return hit(
        NETWORK_INDEX,
        event_id,
        {
            "@timestamp": isoformat(at),
            "event": {"category": ["network"], "type": ["start"], "action": "connection_attempted"},
            "host": {"id": f"id-{host}", "name": host, "os": {"type": "macos"}},
            "process": {"name": name, "parent": {"entity_id": parent_entity_id}},
            "destination": {"ip": "203.0.113.7", "port": 443},
        },
    )


def file_event(
    event_id: str, at: datetime, *, path: str, event_type: str = "creation", host: str = "mac-01"
) -> dict[str, Any]:
    return hit(
        FILE_INDEX,
        event_id,
        {
            "@timestamp": isoformat(at),
            "event": {
                "category": ["file"],
                "type": [event_type],
                "action": event_type,
                "ingested": isoformat(at + timedelta(seconds=1)),
            },
            "host": {"id": f"id-{host}", "name": host, "os": {"type": "macos"}},
            "file": {"path": path, "name": path.rsplit("/", 1)[-1]},
            "process": {"name": "cp"},
        },
    )
