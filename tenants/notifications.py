"""Outgoing notifications: signed webhooks to a tenant's endpoints, and emails to people.

``notify(tenant_id=..., event=..., payload=...)`` is what other apps call, inside the transaction
of the change they announce. It records one delivery per active endpoint subscribed to the event
and enqueues the deliveries and the emails only when that transaction commits, so a rolled-back
change announces nothing. How a delivery is sent, signed, cut at its deadline and retried is
``tenants.webhooks``; the tasks that run them are ``tenants.tasks``.

Unless ``WEBHOOK_ALLOW_PRIVATE_HOSTS`` is on, endpoints reach public addresses only: the host is
resolved and checked when the endpoint is created, and the address actually connected to is
checked again on every attempt, so a DNS change later cannot point the portal at its own network.
With it on (development), loopback and private networks are reached too, but never link-local or
cloud metadata addresses.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from portal.core.audit import Actor, apply_updates, audit_record
from portal.core.errors import Conflict, InvalidRequest
from portal.core.urls_safety import check_outgoing_url
from tenants import tasks
from tenants.models import DeliveryStatus, Tenant, User, WebhookDelivery, WebhookEndpoint
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_ENDPOINT = 50
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*$")
ENDPOINT_FIELDS = ("description", "events", "active")

# --- Notify -------------------------------------------------------------------------------------


def notify(
    *,
    tenant_id: int,
    event: str,
    payload: dict,
    emails: Iterable[str] = (),
    subject: str = "",
    body: str = "",
) -> list[WebhookDelivery]:
    """Announce ``event`` of a tenant to its subscribed endpoints and to ``emails``.

    Call it inside the transaction of the change it announces: deliveries and emails leave only
    once that transaction commits. Empty, duplicate and malformed addresses are skipped. Without
    ``subject`` and ``body`` the email names the tenant and the event and carries the payload.
    """
    if len(event) > 100 or not EVENT_NAME.match(event):
        raise ValueError(f"{event!r} is not an event name (lowercase words joined by dots)")
    if isinstance(emails, str):
        raise TypeError("emails takes a list of addresses, not one string")
    with transaction.atomic(), tenant_scope(tenant_id):
        endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if e.receives(event)]
        deliveries = [
            WebhookDelivery.objects.create(
                tenant_id=tenant_id, endpoint=endpoint, event=event, payload=payload
            )
            for endpoint in endpoints
        ]
        for delivery in deliveries:
            tasks.deliver_webhook.delay_on_commit(
                tenant_id=tenant_id, delivery_id=str(delivery.delivery_id)
            )
        recipients = _recipients(emails)
        if recipients:
            if not subject:
                subject = f"[{Tenant.objects.get(pk=tenant_id).name}] {event}"
            body = body or json.dumps(payload, indent=2, cls=DjangoJSONEncoder)
            for to in recipients:
                tasks.send_notification_email.delay_on_commit(
                    to=to, subject=" ".join(subject.split()), body=body
                )
    return deliveries


def _recipients(emails: Iterable[str]) -> list[str]:
    unique: dict[str, str] = {}
    for raw in emails:
        address = (raw or "").strip()
        if not address or address.lower() in unique:
            continue
        try:
            validate_email(address)
        except ValidationError:
            logger.warning("Notification email skipped: %r is not an email address", address)
            continue
        unique[address.lower()] = address
    return list(unique.values())


# --- Endpoints ----------------------------------------------------------------------------------


def _endpoint_snapshot(endpoint: WebhookEndpoint) -> dict:
    # Never the secret: the audit trail is readable by governance.
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.active,
    }


def _clean_events(events: Iterable[str]) -> list[str]:
    names = sorted({name.strip() for name in events})
    if not names:
        raise InvalidRequest('Name at least one event, or "*" for every event.')
    if "*" in names:
        return ["*"]
    malformed = [name for name in names if len(name) > 100 or not EVENT_NAME.match(name)]
    if malformed:
        raise InvalidRequest(
            "Event names are lowercase words joined by dots, like deployment.approved; "
            f"not valid: {', '.join(malformed)}."
        )
    if len(names) > MAX_EVENTS_PER_ENDPOINT:
        raise InvalidRequest(
            f'An endpoint subscribes to at most {MAX_EVENTS_PER_ENDPOINT} events; use "*" for all.'
        )
    return names


def webhook_endpoint_create(
    *,
    actor: Actor,
    tenant: Tenant,
    url: str,
    events: list[str],
    description: str = "",
    created_by: User | None,
) -> WebhookEndpoint:
    """Create an endpoint with a new secret; the caller shows ``endpoint.secret`` once."""
    url, events = check_webhook_url(url), _clean_events(events)  # DNS before the transaction
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant,
            url=url,
            description=description,
            events=events,
            secret=secrets.token_urlsafe(32),
            created_by=created_by,
        )
        audit_record(
            actor=actor,
            action="webhook.created",
            object_type="webhook_endpoint",
            object_id=endpoint.pk,
            tenant_id=tenant.pk,
            after=_endpoint_snapshot(endpoint),
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *, actor: Actor, endpoint: WebhookEndpoint, **updates: Any
) -> WebhookEndpoint:
    if "events" in updates:
        updates["events"] = _clean_events(updates["events"])
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before, after = apply_updates(
        endpoint,
        editable=ENDPOINT_FIELDS,
        updates=updates,
        refusal="These webhook fields cannot be changed (create a new endpoint instead)",
    )
    if not after:
        return endpoint
    endpoint.save(update_fields=list(after))
    audit_record(
        actor=actor,
        action="webhook.updated",
        object_type="webhook_endpoint",
        object_id=endpoint.pk,
        tenant_id=endpoint.tenant_id,
        before=before,
        after=after,
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery log; deliveries still queued find nothing to send."""
    before = _endpoint_snapshot(endpoint)
    endpoint_id, tenant_id = endpoint.pk, endpoint.tenant_id
    endpoint.delete()
    audit_record(
        actor=actor,
        action="webhook.deleted",
        object_type="webhook_endpoint",
        object_id=endpoint_id,
        tenant_id=tenant_id,
        before=before,
    )


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a failed delivery again, for a fresh round of attempts."""
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .get(pk=delivery.pk)
    )
    if delivery.status != DeliveryStatus.FAILED:
        raise Conflict(f"Only failed deliveries are redelivered; this one is {delivery.status}.")
    if not delivery.endpoint.active:
        raise Conflict("The endpoint is inactive; activate it before redelivering.")
    delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    tasks.deliver_webhook.delay_on_commit(
        tenant_id=delivery.tenant_id, delivery_id=str(delivery.delivery_id)
    )
    return delivery


# --- Addresses ----------------------------------------------------------------------------------


def check_webhook_url(url: str) -> str:
    """The URL if it may receive webhooks, else ``InvalidRequest`` saying what to fix."""
    return check_outgoing_url(
        url,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS,
        setting="WEBHOOK_ALLOW_PRIVATE_HOSTS",
    )
