"""Work enqueued after a commit survives a broker outage.

``delay_on_commit`` (``portal.celery.PortalTask``) publishes when the transaction commits, once,
with the broker's short socket timeouts. When the broker cannot take the message (Redis stopped or
not answering), the task is kept in ``TaskOutbox`` under a task id of its own and the request
carries on: nothing waits on Redis for more than a couple of seconds, and nothing committed is
left without its task.

Beat runs ``portal.relay_outbox`` every 30 seconds; the worker running it sends what the outbox
holds, oldest first, under the kept task ids, and deletes each row once sent. A relay stopped
between sending and deleting sends that task again later; tasks are safe to run twice. A kept
task is sent under the request id of the request that enqueued it, so its log lines name that
request as if the broker had taken it at once.

A service that its own task calls back enqueues that task by name (``enqueue_on_commit``), the
same way, so the service never imports the task module.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from celery import current_app
from django.db import transaction
from django_guid import get_guid, set_guid
from kombu.exceptions import OperationalError as BrokerUnavailable

from portal.core.models import TaskOutbox

logger = logging.getLogger(__name__)

# One attempt: a broker that is down refuses at once, one that hangs times out (socket_timeout).
PUBLISH_ONCE = {"max_retries": 0}
RELAY_BATCH = 500


def publish_or_keep(task: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Send ``task`` now, or keep it in the outbox when the broker cannot take it."""
    if task.app.conf.task_always_eager:
        task.apply_async(args, kwargs)
        return
    try:
        sent = task.apply_async(args, kwargs, retry_policy=PUBLISH_ONCE)
    except BrokerUnavailable as error:
        kept = TaskOutbox.objects.create(
            task_id=str(uuid.uuid4()),
            task_name=task.name,
            args=list(args),
            kwargs=kwargs,
            last_error=str(error)[:500],
            request_id=get_guid() or "",
        )
        logger.warning(
            "Broker unavailable (%s); task %s kept in the outbox as %s", error, task.name, kept
        )
    else:
        logger.info("Task %s sent as %s", task.name, sent.id)


def outbox_relay(*, limit: int = RELAY_BATCH) -> int:
    """Send the kept tasks, oldest first; returns how many were sent. Stops at a broker failure."""
    relay_id = get_guid()
    with transaction.atomic():
        rows = list(TaskOutbox.objects.select_for_update(skip_locked=True).order_by("pk")[:limit])
        sent: list[int] = []
        for row in rows:
            set_guid(row.request_id or relay_id)  # what django-guid puts in the message
            try:
                current_app.send_task(
                    row.task_name,
                    args=row.args,
                    kwargs=row.kwargs,
                    task_id=row.task_id,
                    retry_policy=PUBLISH_ONCE,
                )
            except BrokerUnavailable as error:
                TaskOutbox.objects.filter(pk=row.pk).update(last_error=str(error)[:500])
                logger.warning("Outbox relay stopped: the broker is unavailable (%s)", error)
                break
            finally:
                set_guid(relay_id)
            sent.append(row.pk)
        TaskOutbox.objects.filter(pk__in=sent).delete()
    return len(sent)


def enqueue_on_commit(task_name: str, /, **kwargs: Any) -> None:
    """``delay_on_commit`` of the task registered as ``task_name``, with keyword arguments."""
    registered_task(task_name).delay_on_commit(**kwargs)


def registered_task(name: str) -> Any:
    """The task registered as ``name``. A process that has not imported its module yet (a web
    process before its first request, a command) imports every app's task module first, as a
    worker does when it starts; an unknown name raises ``NotRegistered``."""
    if name not in current_app.tasks:
        current_app.autodiscover_tasks(force=True)
    return current_app.tasks[name]
