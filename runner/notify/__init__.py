"""Telling people: connectors, rule actions, templates, and a durable outbox.

- :mod:`.loader` reads connectors and actions (detection-rules' format or runner's plain form);
- :mod:`.planner` turns one execution's new alerts into rendered notifications
  (frequency, throttle, ``alerts_filter``), queued by the backend with the alerts;
- :mod:`.outbox` keeps them (a DuckDB table or a cluster index) until a receiver
  acknowledged them; :mod:`.worker` delivers them through :mod:`.connectors`;
- :mod:`.service` wires these together for a backend.
"""

from runner.notify.model import Action, Connector, Notification, OutboxItem

__all__ = ["Action", "Connector", "Notification", "OutboxItem"]
