"""Event records and their two renderings: an NDJSON line and a ``dict``.

Encoding a whole Elastic Defend document with :func:`json.dumps` costs ~10 us, which caps a
generator near 100k events/s.  Most of a document never changes between events, though: the
``agent``/``host``/``data_stream`` part is fixed per host and dataset, the ``process``/``user``
part per process.  Those parts are encoded once (:class:`~runner.demo.fleet.Host` and
:class:`~runner.demo.fleet.Proc` cache them) and a line is one f-string over cached fragments
plus a few numbers.  The ``dict`` rendering builds the same document from the same record; a
test checks ``json.loads(line) == dict`` for every document.

A record is a plain tuple (see :data:`Record`) so that it can sit in a :mod:`heapq` keyed by
``(timestamp_ms, seq)``; ``seq`` is unique, so the heap never compares the rest.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from runner.demo.fleet import Host, Proc

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


def dumps(value: Any) -> str:
    """Compact JSON (the encoding of every cached fragment)."""
    return _ENCODE(value)


def plain(text: str) -> bool:
    """True if ``text`` needs no escaping inside a JSON string."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def jstr(text: str) -> str:
    """``text`` as a JSON string literal."""
    return f'"{text}"' if plain(text) else _ENCODE(text)


PROCESS: Final = 0
FILE: Final = 1
NETWORK: Final = 2

DATASETS: Final = ("endpoint.events.process", "endpoint.events.file", "endpoint.events.network")
CATEGORIES: Final = ("process", "file", "network")
MESSAGES: Final = ("Endpoint process event", "Endpoint file event", "Endpoint network event")
ECS_VERSION: Final = "8.10.0"

SHAPES: list[Shape] = []


class Shape:
    """What an event is (dataset, ``event.action``, ``event.type``), with its cached JSON.
    ``index`` numbers the shapes so hosts can cache a line head per shape."""

    __slots__ = ("action", "category", "dataset", "head", "index", "kind", "tail", "type")

    def __init__(self, kind: int, action: str, type_: str) -> None:
        self.kind = kind
        self.action = action
        self.type = type_
        self.category = CATEGORIES[kind]
        self.dataset = DATASETS[kind]
        self.head = (
            f'"event":{{"action":{dumps(action)},"category":[{dumps(self.category)}],'
            f'"dataset":"{self.dataset}","id":"'
        )
        self.tail = f'"kind":"event","module":"endpoint","type":[{dumps(type_)}]}}'
        self.index = len(SHAPES)
        SHAPES.append(self)


EXEC: Final = Shape(PROCESS, "exec", "start")
FORK: Final = Shape(PROCESS, "fork", "start")
PROCESS_END: Final = Shape(PROCESS, "end", "end")
FILE_CREATE: Final = Shape(FILE, "creation", "creation")
FILE_MODIFY: Final = Shape(FILE, "modification", "change")
FILE_OVERWRITE: Final = Shape(FILE, "overwrite", "change")
FILE_RENAME: Final = Shape(FILE, "rename", "change")
FILE_DELETE: Final = Shape(FILE, "deletion", "deletion")
NET_CONNECT: Final = Shape(NETWORK, "connection_attempted", "start")
NET_ACCEPT: Final = Shape(NETWORK, "connection_accepted", "start")
NET_DISCONNECT: Final = Shape(NETWORK, "disconnect_received", "end")

FILE_SHAPES: Final = {
    "creation": FILE_CREATE,
    "modification": FILE_MODIFY,
    "overwrite": FILE_OVERWRITE,
    "rename": FILE_RENAME,
    "deletion": FILE_DELETE,
}


class FileRef:
    """``file.{name,path,extension}`` of one path, encoded once."""

    __slots__ = ("extension", "fragment", "name", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        name = self.name = path.rpartition("/")[2]
        dot = name.rfind(".")
        ext = self.extension = name[dot + 1 :] if 0 < dot < len(name) - 1 else ""
        if plain(path):
            more = f',"extension":"{ext}"' if ext else ""
            self.fragment = f',"file":{{"name":"{name}","path":"{path}"{more}}}'
        else:
            self.fragment = ',"file":' + dumps(self.as_dict())

    def as_dict(self) -> dict[str, str]:
        doc = {"name": self.name, "path": self.path}
        if self.extension:
            doc["extension"] = self.extension
        return doc


# (source.ip, source.port, destination.ip, destination.port, network.transport, network.direction)
NetInfo = tuple[str, int, str, int, str, str]


class Label:
    """Why a generated document exists, rendered as ECS ``labels`` when asked for."""

    __slots__ = ("case", "fragment", "role", "rule")

    def __init__(self, role: str, rule: str, case: str) -> None:
        self.role = role
        self.rule = rule
        self.case = case
        self.fragment = ',"labels":' + dumps(self.as_dict())

    def as_dict(self) -> dict[str, str]:
        key = {"true_positive": "expected_rule", "near_miss": "near_miss_rule"}.get(
            self.role, f"{self.role}_rule"
        )
        return {key: self.rule, "generator_case": self.case, "generator_role": self.role}


# (timestamp_ms, seq, shape, host, process, ingested_ms or -1, file/network details, label)
Record = tuple[int, int, Shape, "Host", "Proc", int, "FileRef | NetInfo | None", "Label | None"]


_MILLIS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))


def event_id(host: Host, seq: int) -> str:
    """``event.id``: 15 characters per host, then the record's sequence number."""
    return f"{host.eid_prefix}{seq:09x}"


class Renderer:
    """Turns records into NDJSON lines or dicts; ``labels`` adds ECS ``labels`` to the
    documents that have a :class:`Label`."""

    __slots__ = ("_seconds", "labels")

    def __init__(self, *, labels: bool) -> None:
        self.labels = labels
        self._seconds: dict[int, str] = {}

    def _second(self, sec: int) -> str:
        """``2024-05-01T12:00:00`` for an epoch second (cached)."""
        cache = self._seconds
        if len(cache) > 65536:
            cache.clear()
        t = time.gmtime(sec)
        text = cache[sec] = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        )
        return text

    def timestamp(self, ms: int) -> str:
        sec, milli = divmod(ms, 1000)
        return f"{self._seconds.get(sec) or self._second(sec)}{_MILLIS[milli]}"

    def line(self, rec: Record) -> str:
        ts, seq, shape, host, proc, ing, extra, label = rec
        seconds = self._seconds
        sec, milli = divmod(ts, 1000)
        stamp = f"{seconds.get(sec) or self._second(sec)}{_MILLIS[milli]}"
        if ing >= 0:
            sec, milli = divmod(ing, 1000)
            ingested = f'"ingested":"{seconds.get(sec) or self._second(sec)}{_MILLIS[milli]}",'
        else:
            ingested = ""
        kind = shape.kind
        if kind == PROCESS:
            body = proc.full_fragment or proc.make_full_fragment()
        elif kind == FILE:
            body = (proc.slim_fragment or proc.make_slim_fragment()) + extra.fragment  # type: ignore[union-attr]
        else:
            sip, sport, dip, dport, transport, direction = extra  # type: ignore[misc]
            body = (
                f'{proc.slim_fragment or proc.make_slim_fragment()},"destination":{{"ip":"{dip}",'
                f'"port":{dport}}},"network":{{"direction":"{direction}","transport":'
                f'"{transport}","type":"ipv4"}},"source":{{"ip":"{sip}","port":{sport}}}'
            )
        tag = label.fragment if label is not None and self.labels else ""
        return (
            f'{{"@timestamp":"{stamp}",{host.heads[shape.index]}{seq:09x}",{ingested}'
            f"{shape.tail},{body}{tag}}}\n"
        )

    def document(self, rec: Record) -> dict[str, Any]:
        ts, seq, shape, host, proc, ing, extra, label = rec
        kind = shape.kind
        event: dict[str, Any] = {
            "action": shape.action,
            "category": [shape.category],
            "dataset": shape.dataset,
            "id": f"{host.eid_prefix}{seq:09x}",
        }
        if ing >= 0:
            event["ingested"] = self.timestamp(ing)
        event["kind"] = "event"
        event["module"] = "endpoint"
        event["type"] = [shape.type]
        doc: dict[str, Any] = {
            "@timestamp": self.timestamp(ts),
            "agent": host.agent_doc,
            "data_stream": host.data_stream_docs[kind],
            "ecs": host.ecs_doc,
            "host": host.host_doc,
            "message": MESSAGES[kind],
            "event": event,
            "process": proc.full_doc() if kind == PROCESS else proc.slim_doc(),
            "user": proc.user_doc(),
        }
        if kind == FILE:
            doc["file"] = extra.as_dict()  # type: ignore[union-attr]
        elif kind == NETWORK:
            sip, sport, dip, dport, transport, direction = extra  # type: ignore[misc]
            doc["destination"] = {"ip": dip, "port": dport}
            doc["network"] = {"direction": direction, "transport": transport, "type": "ipv4"}
            doc["source"] = {"ip": sip, "port": sport}
        if label is not None and self.labels:
            doc["labels"] = label.as_dict()
        return doc
