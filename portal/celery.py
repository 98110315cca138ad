"""The Celery application.

Tasks across the project follow one contract: they take ids, run inside ``tenant_scope`` when they
touch tenant data, are enqueued with ``delay_on_commit`` (so a rolled-back transaction enqueues
nothing), acknowledge late so a lost worker means a redelivery, and are safe to run twice.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
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
