"""Sending one webhook delivery: signed, under one deadline, with no transaction open meanwhile.

A delivery is a JSON POST signed with its endpoint's secret (README: "Outgoing webhooks"):

    X-Portal-Signature: v1,<hex HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">

Each attempt ends by its deadline, ``WEBHOOK_TIMEOUT_SECONDS`` for the whole call (connecting,
sending, the status line, headers and the start of an error body), so a receiver that trickles its
answer is cut there. No database transaction or row lock is held during the call, and the delivery
task runs on the ``webhooks`` queue (``portal/celery.py``), so a slow receiver slows only the
deliveries. A non-2xx answer, a network error or a cut at the deadline is retried with
exponential backoff (``WEBHOOK_RETRY_BASE_SECONDS``, doubling) up to ``MAX_ATTEMPTS`` attempts;
then the delivery is failed and an owner may redeliver it. A delivered delivery is never sent
again. Redirects are not followed, and the address connected to is checked again on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from portal.core.urls_safety import PrivateAddressRefused, http_connection
from tenants.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ERROR_EXCERPT_BYTES = 1000  # of a receiver's error answer, kept in the delivery log
USER_AGENT = "mlops-portal-webhooks/1"
# How long past its deadline an attempt stays claimed (resolving the host is not under the
# deadline); a run that finds the lease expired takes over, as the attempt's worker was lost.
LEASE_MARGIN_SECONDS = 15


def sign(*, secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """``v1,<hex HMAC-SHA256>`` of ``"<delivery id>.<timestamp>.<body>"`` keyed by the secret."""
    message = f"{delivery_id}.{timestamp}.{body}".encode()
    return "v1," + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answer:
    """What one POST came back with."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    retryable: bool = True


@dataclass(frozen=True)
class Attempt:
    """The outcome of one run of the delivery task: the status, and when to try again if ever.

    ``behind_lease``: the run found the delivery in flight elsewhere and comes back when that
    attempt's lease ends.
    """

    status: str
    retry_in: int | None = None
    behind_lease: bool = False


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    seconds = settings.WEBHOOK_TIMEOUT_SECONDS
    connection = http_connection(
        url,
        deadline=time.monotonic() + seconds,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS,
    )
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        excerpt = ""
        if not 200 <= status < 300:  # a 2xx is delivered whatever its body; no need to read it
            excerpt = response.read(ERROR_EXCERPT_BYTES).decode("utf-8", errors="replace").strip()
    except PrivateAddressRefused as refused:
        return Answer(ok=False, error=str(refused), retryable=False)
    except TimeoutError:  # DeadlinePassed included
        return Answer(
            ok=False,
            error=(
                f"Cut at the deadline: the receiver did not answer in full within {seconds} seconds "
                "(WEBHOOK_TIMEOUT_SECONDS); answer first, then do the work."
            ),
        )
    except (OSError, http.client.HTTPException) as failure:
        return Answer(ok=False, error=f"Could not deliver: {failure or type(failure).__name__}.")
    finally:
        connection.close()
    if 200 <= status < 300:
        return Answer(ok=True, status_code=status)
    if 300 <= status < 400:
        error = (
            f"Answered {status}, a redirect to {response.getheader('Location', '?')}; redirects "
            "are not followed, so point the endpoint at the final URL."
        )
    else:
        error = f"Answered {status}: {excerpt}" if excerpt else f"Answered {status}."
    return Answer(ok=False, status_code=status, error=error)


def _send(delivery: WebhookDelivery) -> Answer:
    delivery_id, timestamp = str(delivery.delivery_id), str(int(time.time()))
    body = json.dumps(
        {
            "id": delivery_id,
            "event": delivery.event,
            "tenant": delivery.tenant.slug,
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Portal-Event": delivery.event,
        "X-Portal-Delivery": delivery_id,
        "X-Portal-Timestamp": timestamp,
        "X-Portal-Signature": sign(
            secret=delivery.endpoint.secret, delivery_id=delivery_id, timestamp=timestamp, body=body
        ),
    }
    return _post(delivery.endpoint.url, body=body.encode(), headers=headers)


def webhook_delivery_attempt(*, delivery_id: str, behind_lease: bool = False) -> Attempt:
    """Send a pending delivery once and record the outcome. Runs inside its tenant's scope.

    No transaction is open while the receiver is called: a short transaction claims the attempt
    (marks it in flight with a lease), the POST runs with none open and ends by its deadline, and
    another short transaction records the outcome. A run that finds the delivery delivered or
    failed sends nothing; one that finds it in flight comes back when that lease ends (and sends
    only if the attempt in flight scheduled nothing, i.e. its worker was lost).
    """
    delivery, attempt = _claim(delivery_id, behind_lease=behind_lease)
    if delivery is None:
        assert attempt is not None
        return attempt
    return _record(delivery, _send(delivery))


def _claim(
    delivery_id: str, *, behind_lease: bool
) -> tuple[WebhookDelivery | None, Attempt | None]:
    """The delivery, now in flight, or what to answer instead of sending."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "tenant")
            .filter(delivery_id=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None, Attempt(status=delivery.status if delivery else "gone")
        now = timezone.now()
        if delivery.lease_expires_at is not None and delivery.lease_expires_at > now:
            wait = math.ceil((delivery.lease_expires_at - now).total_seconds()) + 1
            return None, Attempt(status=delivery.status, retry_in=wait, behind_lease=True)
        if behind_lease and delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return None, Attempt(status=delivery.status)  # the run in flight scheduled its retry
        if not delivery.endpoint.active:
            inactive = Answer(
                ok=False, error="Not sent: the endpoint is inactive; activate it and redeliver."
            )
            return None, _close(delivery, inactive)
        if delivery.lease_expires_at is not None and delivery.attempts >= MAX_ATTEMPTS:
            # Every attempt so far lost its worker mid-call (its lease ran out unrecorded).
            lost = Answer(
                ok=False,
                error=f"Given up: the worker sending it was lost on all {delivery.attempts} "
                "attempts; redeliver to try again.",
            )
            return None, _close(delivery, lost)
        # The attempt counts from here: a worker lost mid-call still used one.
        delivery.attempts += 1
        delivery.lease_expires_at = now + timedelta(
            seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS
        )
        delivery.save(update_fields=["attempts", "lease_expires_at"])
    return delivery, None


def _record(claimed: WebhookDelivery, answer: Answer) -> Attempt:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .filter(pk=claimed.pk)
            .first()
        )
        if delivery is None:
            return Attempt(status="gone")  # its endpoint was deleted meanwhile
        if (
            delivery.status != DeliveryStatus.PENDING
            or delivery.lease_expires_at != claimed.lease_expires_at
        ):
            # This attempt outlived its lease and another run took over: that run's outcome stands.
            logger.warning(
                "Webhook delivery %s outlived its lease; the outcome of this attempt is dropped",
                delivery.delivery_id,
            )
            return Attempt(status=delivery.status)
        return _close(delivery, answer)


def _close(delivery: WebhookDelivery, answer: Answer) -> Attempt:
    """Record ``answer`` as the outcome of the delivery's latest attempt (in the caller's
    transaction, the row locked): delivered, retried later with backoff, or failed."""
    now, retry_in = timezone.now(), None
    delivery.last_status_code, delivery.last_error = answer.status_code, answer.error
    if answer.ok:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif answer.retryable and delivery.endpoint.active and delivery.attempts < MAX_ATTEMPTS:
        retry_in = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
    else:
        delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
    delivery.lease_expires_at = None
    delivery.save(
        update_fields=[
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "lease_expires_at",
        ]
    )
    return Attempt(status=delivery.status, retry_in=retry_in)
