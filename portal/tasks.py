"""Tasks of the portal as a whole: the outbox relay."""

from __future__ import annotations

from celery import shared_task

from portal.core import outbox


@shared_task(name="portal.relay_outbox", acks_late=True)
def relay_outbox() -> int:
    """Send the tasks the broker could not take when they were enqueued (beat, every 30 s)."""
    return outbox.outbox_relay()
