"""The Celery application.

Tasks across the project follow one contract: they take ids, run inside ``tenant_scope`` when they
touch tenant data, are enqueued with ``delay_on_commit`` (so a rolled-back transaction enqueues
nothing, and a broker outage keeps the task in the outbox instead of failing the request; see
``portal.core.outbox``), acknowledge late so a lost worker means a redelivery, and are safe to run
twice.

Calls to outside receivers (webhooks, emails) run on a queue of their own, ``webhooks``, so a slow
receiver can only slow its own deliveries. A worker started without ``--queues`` consumes both
queues (development); ``make run`` and docker-compose start one worker for ``celery`` and one
for ``webhooks``.
"""

import functools
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.worker.request import Request
from django.db import transaction
from django_guid import get_guid, set_guid
from django_guid.config import settings as guid_settings
from kombu import Queue

from portal.core.request_ids import request_id_received

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class PortalRequest(Request):
    """A task message taken by the worker; remembers the request id the message carries."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request_id = self.request_dict.get(guid_settings.guid_header_name)
        if request_id:
            request_id_received(self.id, request_id)


class PortalTask(DjangoTask):
    """Every task of the portal: ``delay_on_commit`` keeps what the broker cannot take, and the
    worker's line on taking its message names the request that sent it."""

    Request = PortalRequest

    def apply(self, *args, **kwargs):
        """Run in this process (eager mode): the task logs under an id of its own, and the
        caller's request id is back once it is done."""
        request_id = get_guid()
        try:
            return super().apply(*args, **kwargs)
        finally:
            set_guid(request_id)

    def delay_on_commit(self, *args, **kwargs) -> None:
        from portal.core.outbox import publish_or_keep  # models load after the Celery app

        transaction.on_commit(functools.partial(publish_or_keep, self, args, kwargs))


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
DEFAULT_QUEUE, WEBHOOKS_QUEUE = "celery", "webhooks"

app.conf.update(
    task_default_queue=DEFAULT_QUEUE,
    # Each queue is bound under its own name, so a message sent to the exchange with one queue's
    # key reaches that queue alone (unnamed, both would be bound under the default key).
    task_default_routing_key=DEFAULT_QUEUE,
    task_queues=(
        Queue(DEFAULT_QUEUE, routing_key=DEFAULT_QUEUE),
        Queue(WEBHOOKS_QUEUE, routing_key=WEBHOOKS_QUEUE),
    ),
    task_routes={
        "tenants.deliver_webhook": {"queue": WEBHOOKS_QUEUE},
        "tenants.send_notification_email": {"queue": WEBHOOKS_QUEUE},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    task_soft_time_limit=15 * 60,
    task_time_limit=16 * 60,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    worker_hijack_root_logger=False,
    # What tasks print (the console email backend in development) is information, not a warning.
    worker_redirect_stdouts_level="INFO",
)
app.autodiscover_tasks()
