"""Outgoing notification tasks: one webhook delivery, one email. Enqueued by ``notifications``; a delivery is sent by ``webhooks``.

Both run on the ``webhooks`` queue (``portal/celery.py``): a slow receiver or mail relay occupies a
worker of that queue only, never one that runs rollouts, syncs or the month close.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from tenants import webhooks
from tenants.scoping import tenant_scope


# max_retries=None: the bound is the delivery's own attempt count (webhooks.MAX_ATTEMPTS),
# which also holds when the broker hands the same task out twice.
@shared_task(name="tenants.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(
    self: Any, *, tenant_id: int, delivery_id: str, behind_lease: bool = False
) -> str:
    with tenant_scope(tenant_id):
        attempt = webhooks.webhook_delivery_attempt(
            delivery_id=delivery_id, behind_lease=behind_lease
        )
    if attempt.retry_in is not None:
        raise self.retry(
            countdown=attempt.retry_in,
            kwargs={
                "tenant_id": tenant_id,
                "delivery_id": delivery_id,
                "behind_lease": attempt.behind_lease,
            },
        )
    return attempt.status


# The message itself rather than ids: the email is composed when the announced change commits.
@shared_task(
    name="tenants.send_notification_email",
    acks_late=True,
    autoretry_for=(OSError,),  # smtplib's errors are OSErrors
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def send_notification_email(*, to: str, subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
