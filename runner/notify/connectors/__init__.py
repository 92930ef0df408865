"""Connector types by ``actionTypeId``: one module each."""

from __future__ import annotations

from runner.notify.connectors.base import ConnectorType, Sender, SendOptions
from runner.notify.connectors.chat import ChatType
from runner.notify.connectors.email import EmailType
from runner.notify.connectors.file import FileType
from runner.notify.connectors.index import IndexType, IndexWriter
from runner.notify.connectors.pagerduty import PagerDutyType
from runner.notify.connectors.syslog import SyslogType
from runner.notify.connectors.webhook import WebhookType


def connector_types(index_writer: IndexWriter | None = None) -> dict[str, ConnectorType]:
    types: list[ConnectorType] = [
        WebhookType(), ChatType(".slack"), ChatType(".teams"), EmailType(), PagerDutyType(),
        SyslogType(), IndexType(writer=index_writer), FileType(),
    ]  # fmt: skip
    return {t.type_id: t for t in types}


__all__ = ["ConnectorType", "IndexWriter", "SendOptions", "Sender", "connector_types"]
