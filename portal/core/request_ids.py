"""The request ids of task messages the worker has taken but not yet started.

The worker writes "Task ... received" before the task runs, when no request id is set yet. The
Celery app's request class (``portal.celery.PortalRequest``) remembers the request id each message
carries, by task id, and the log filter (``portal.core.middleware.RequestIdFilter``) takes it
once for that line. The store is bounded: with INFO lines off nothing reads it, and the oldest
are forgotten.
"""

from __future__ import annotations

from collections import OrderedDict

_RECEIVED: OrderedDict[str, str] = OrderedDict()
_RECEIVED_KEPT = 1000


def request_id_received(task_id: str, request_id: str) -> None:
    """Remember the request id of the message of ``task_id``, which the worker has just taken."""
    _RECEIVED[task_id] = request_id
    while len(_RECEIVED) > _RECEIVED_KEPT:
        _RECEIVED.popitem(last=False)


def request_id_of_received(task_id: str) -> str | None:
    """The request id of a message the worker has just taken, once (for its "received" line)."""
    return _RECEIVED.pop(task_id, None)
