"""Slow receivers never hurt the portal: a webhook receiver that trickles its answer is cut at the
delivery's deadline, holds no transaction or row lock while it trickles, and only ever occupies the
worker of the ``webhooks`` queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.mail import send_mail
from django.db import connections, transaction
from django.utils import timezone

from governance.models import AuditVerification
from governance.tasks import verify_audit_trail
from portal.core.audit import audit_record
from tenants import notifications, services, webhooks
from tenants import tasks as notify_tasks
from tenants.models import DeliveryStatus, Tenant, WebhookDelivery, WebhookEndpoint
from tenants.notifications import notify
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for
from tests.processes import CeleryWorker, wait_for
from tests.slow_peers import SMTP_GREETING, TricklingServer, sessions_in_a_transaction


@pytest.fixture
def trickling() -> Iterator[TricklingServer]:
    """A receiver that sends its status line, then one header byte a second (less than the
    per-read timeout a deadline used to be), never finishing its answer."""
    receiver = TricklingServer(every=1.0)
    yield receiver
    receiver.stop()


@pytest.fixture
def slow_endpoint(company, settings, trickling) -> WebhookEndpoint:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver listens on loopback
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    with tenant_scope(company.a):
        return notifications.webhook_endpoint_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            url=trickling.url(),
            events=["*"],
            created_by=company.alice,
        )


def pending_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    with tenant_scope(endpoint.tenant_id):
        return WebhookDelivery.objects.create(
            tenant_id=endpoint.tenant_id, endpoint=endpoint, event="model.registered", payload={}
        )


class AttemptInThread:
    """One delivery attempt, run in its own thread and database connection, timed."""

    def __init__(self, delivery: WebhookDelivery) -> None:
        self.delivery = delivery
        self.outcome: webhooks.Attempt | None = None
        self.seconds: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            with tenant_scope(self.delivery.tenant_id):
                self.outcome = webhooks.webhook_delivery_attempt(
                    delivery_id=str(self.delivery.delivery_id)
                )
        finally:
            self.seconds = time.monotonic() - started
            connections.close_all()

    def join(self, seconds: float) -> None:
        self.thread.join(timeout=seconds)
        assert not self.thread.is_alive(), f"the attempt still runs after {seconds} s"


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def record_an_audit_event(tenant_id: int) -> None:
    with transaction.atomic():
        audit_record(
            actor=TEST_ACTOR,
            action="tenant.checked",
            object_type="tenant",
            object_id=tenant_id,
            tenant_id=tenant_id,
        )


@pytest.mark.postgres
def test_a_trickling_receiver_is_cut_at_the_deadline_and_retried_later_while_the_portal_writes_on(
    transactional_db, company, slow_endpoint, trickling
):
    delivery = pending_delivery(slow_endpoint)
    attempt = AttemptInThread(delivery)
    assert trickling.open.wait(timeout=10), "the delivery never reached the receiver"

    # While the receiver trickles, the delivery holds no transaction, and the portal writes on.
    assert sessions_in_a_transaction() == []
    with tenant_scope(company.a):
        tenant = Tenant.objects.get(pk=company.a.pk)
        renaming = timed(
            lambda: services.tenant_update(actor=TEST_ACTOR, tenant=tenant, name="Acme Stores")
        )
        auditing = timed(lambda: record_an_audit_event(company.a.pk))
    assert renaming < 1.5 and auditing < 1.5, (renaming, auditing)

    attempt.join(seconds=30)
    assert attempt.seconds is not None and attempt.seconds < 2 + 4, attempt.seconds
    assert attempt.outcome == webhooks.Attempt(status=DeliveryStatus.PENDING, retry_in=30)
    with tenant_scope(company.a):
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert "did not answer in full within 2 seconds" in delivery.last_error
    assert "WEBHOOK_TIMEOUT_SECONDS" in delivery.last_error
    assert delivery.next_attempt_at is not None
    assert abs(delivery.next_attempt_at - (timezone.now() + timedelta(seconds=30))) < timedelta(
        seconds=10
    )
    assert delivery.lease_expires_at is None


@pytest.mark.postgres
def test_an_owner_deletes_an_endpoint_at_once_while_its_receiver_trickles(
    transactional_db, company, slow_endpoint, trickling
):
    detail = f"/api/v1/tenants/{company.a.slug}/webhooks/{slow_endpoint.pk}/"
    alice = client_for(company.alice)
    assert alice.get(detail).status_code == 200  # the API's code is loaded before the clock runs
    delivery = pending_delivery(slow_endpoint)
    attempt = AttemptInThread(delivery)
    assert trickling.open.wait(timeout=10), "the delivery never reached the receiver"

    [entry] = alice.get(f"{detail}deliveries/").json()["results"]
    assert entry["status"] == "pending" and entry["in_flight_until"] is not None
    deleting = timed(lambda: alice.delete(detail))
    assert deleting < 1.5, f"deleting the endpoint waited {deleting:.1f} s on the delivery"
    assert trickling.open.is_set(), "the receiver stopped trickling before the endpoint was deleted"

    attempt.join(seconds=30)
    assert attempt.outcome == webhooks.Attempt(status="gone")
    with tenant_scope(company.a):
        assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()


@pytest.mark.postgres
def test_a_delivery_in_flight_is_not_sent_twice_and_a_lost_one_is_sent_after_its_lease(
    transactional_db, company, slow_endpoint, trickling
):
    delivery = pending_delivery(slow_endpoint)
    attempt = AttemptInThread(delivery)
    assert trickling.open.wait(timeout=10), "the delivery never reached the receiver"

    with tenant_scope(company.a):
        second = webhooks.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id))
    assert second.status == DeliveryStatus.PENDING
    assert second.retry_in is not None and second.retry_in > 2  # after the first one's lease
    assert trickling.connections == 1
    attempt.join(seconds=30)

    # A run whose worker was lost mid-call leaves its lease behind; once it expires, a new run sends.
    with tenant_scope(company.a):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1), next_attempt_at=None
        )
    AttemptInThread(delivery).join(seconds=30)
    assert trickling.connections == 2


def test_a_mail_relay_that_trickles_its_greeting_is_cut_at_the_deadline(settings):
    relay = TricklingServer(start=SMTP_GREETING, reads_first=False, every=1.0, lasts=60)
    settings.EMAIL_BACKEND = "portal.core.mail.SMTPBackend"  # the default when DEBUG is off
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", relay.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    started = time.monotonic()
    try:
        # smtplib reports it as a lost connection, an OSError: the email task retries it later.
        with pytest.raises(OSError, match="the deadline passed"):
            send_mail("Churn v3 is approved", "Deploy when ready.", None, ["ops@example.com"])
        took = time.monotonic() - started
    finally:
        relay.stop()
    assert took < 2 + 4, f"sending waited {took:.0f} s on the relay"
    assert relay.connections == 1


# --- The queue of its own ------------------------------------------------------------------------


@pytest.mark.redis
def test_deliveries_and_emails_wait_on_the_webhooks_queue_and_other_tasks_on_the_default_one(
    settings,
):
    from portal.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    app.control.purge()
    try:
        notify_tasks.deliver_webhook.apply_async(kwargs={"tenant_id": 1, "delivery_id": "x"})
        notify_tasks.send_notification_email.apply_async(
            kwargs={"to": "ops@example.com", "subject": "s", "body": "b"}
        )
        verify_audit_trail.apply_async()
        assert (broker.llen("webhooks"), broker.llen("celery")) == (2, 1)
    finally:
        app.control.purge()


@pytest.fixture
def two_workers(transactional_db, tmp_path) -> Iterator[tuple[CeleryWorker, CeleryWorker]]:
    """A worker on the default queue and one on the ``webhooks`` queue, as ``make run`` starts."""
    from portal.celery import app

    app.control.purge()
    env = {"WEBHOOK_ALLOW_PRIVATE_HOSTS": "true", "WEBHOOK_TIMEOUT_SECONDS": "120"}
    default = CeleryWorker(
        tmp_path / "default.log", broker_url=settings.CELERY_BROKER_URL, env=env, queues=("celery",)
    ).start()
    webhooks = CeleryWorker(
        tmp_path / "webhooks.log",
        broker_url=settings.CELERY_BROKER_URL,
        env=env,
        queues=("webhooks",),
    ).start()
    yield default, webhooks
    webhooks.stop()
    default.stop()
    app.control.purge()


@pytest.mark.postgres
@pytest.mark.redis
def test_other_tasks_run_while_a_trickling_receiver_holds_a_delivery_on_its_own_queue(
    company, settings, trickling, two_workers
):
    default, webhooks = two_workers
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    with tenant_scope(company.a):
        notifications.webhook_endpoint_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            url=trickling.url(),
            events=["*"],
            created_by=company.alice,
        )
    with transaction.atomic():
        notify(tenant_id=company.a.pk, event="model.registered", payload={"model": "churn"})
    assert trickling.open.wait(timeout=180), (
        f"no worker called the receiver:\n{webhooks.output()}\n{default.output()}"
    )

    with transaction.atomic():
        verify_audit_trail.delay_on_commit()
    assert wait_for(
        lambda: AuditVerification.objects.filter(finished_at__isnull=False).exists(), seconds=90
    ), f"the audit check did not run beside the slow delivery:\n{default.output()}"
    assert trickling.open.is_set(), "the delivery ended before the other task ran"


@pytest.mark.django_db
def test_a_delivery_whose_worker_is_lost_on_every_attempt_is_given_up_after_the_last_attempt(
    company, slow_endpoint, trickling, monkeypatch
):
    delivery = pending_delivery(slow_endpoint)

    def worker_lost(_delivery):
        raise SystemExit("the worker was killed mid-send")

    monkeypatch.setattr(webhooks, "_send", worker_lost)
    for _ in range(webhooks.MAX_ATTEMPTS):
        with tenant_scope(company.a), pytest.raises(SystemExit):
            webhooks.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id))
        with tenant_scope(company.a):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                lease_expires_at=timezone.now() - timedelta(seconds=1)
            )

    with tenant_scope(company.a):
        outcome = webhooks.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id))
        delivery.refresh_from_db()
    assert outcome.status == DeliveryStatus.FAILED and outcome.retry_in is None
    assert delivery.attempts == webhooks.MAX_ATTEMPTS
    assert "lost" in delivery.last_error
    assert trickling.connections == 0
