"""The outbox interface (:mod:`.base`) and its implementations (:mod:`.embedded`,
:mod:`.elastic`)."""

from runner.notify.outbox.base import Outbox

__all__ = ["Outbox"]
