"""Tasks of the portal as a whole: the outbox relay, and forgetting expired idempotency keys."""

from __future__ import annotations

from celery import shared_task

from portal.core import outbox
from portal.core.api import idempotency


@shared_task(name="portal.relay_outbox", acks_late=True)
def relay_outbox() -> int:
    """Send the tasks the broker could not take when they were enqueued (beat, every 30 s)."""
    return outbox.outbox_relay()


@shared_task(name="portal.expire_idempotency_keys", acks_late=True, max_retries=0)
def expire_idempotency_keys() -> int:
    """Delete the Idempotency-Keys whose time is over (beat, hourly); returns how many."""
    return idempotency.idempotency_keys_expire()
