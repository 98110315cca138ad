"""Outgoing notifications: signed webhooks to a real local receiver, retries, emails, isolation."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from governance.models import AuditEvent
from tenants import tasks, webhooks
from tenants.models import DeliveryStatus, WebhookDelivery
from tenants.notifications import notify
from tenants.scoping import tenant_scope
from tests.builders import client_for, make_token

pytestmark = pytest.mark.django_db


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with ``status``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"receiver is down")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/hooks/portal") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"


@pytest.fixture
def receiver(settings, eager_celery) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver listens on loopback
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join()


def webhooks_url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/webhooks/"


def create_endpoint(company, url: str, events: list[str]) -> dict:
    answer = client_for(company.alice).post(
        webhooks_url(company.a), {"url": url, "events": events}, format="json"
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def receiver_verifies(secret: str, received: Received) -> bool:
    """What a receiver does: HMAC over "<delivery id>.<timestamp>.<raw body>" with the secret."""
    message = (
        f"{received.headers['X-Portal-Delivery']}.{received.headers['X-Portal-Timestamp']}.".encode()
        + received.body
    )
    expected = "v1," + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["X-Portal-Signature"])


def announce(company, event: str = "deployment.approved", **kwargs) -> list[WebhookDelivery]:
    return notify(tenant_id=company.a.pk, event=event, payload={"model": "churn"}, **kwargs)


# --- Delivery -----------------------------------------------------------------------------------


def test_a_delivery_arrives_signed_and_the_signature_verifies_with_the_secret(
    company, receiver, django_capture_on_commit_callbacks
):
    endpoint = create_endpoint(company, receiver.url(), ["deployment.approved"])
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = announce(company)

    [received] = receiver.received
    assert received.path == "/hooks/portal"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Portal-Event"] == "deployment.approved"
    assert received.headers["X-Portal-Delivery"] == str(delivery.delivery_id)
    assert abs(int(received.headers["X-Portal-Timestamp"]) - time.time()) < 60
    assert receiver_verifies(endpoint["secret"], received)
    assert not receiver_verifies("not-the-secret", received)
    body = json.loads(received.body)
    assert body["id"] == str(delivery.delivery_id)
    assert body["event"] == "deployment.approved"
    assert body["tenant"] == company.a.slug
    assert body["data"] == {"model": "churn"}
    assert body["created_at"]
    with tenant_scope(company.a):
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert delivery.delivered_at is not None


def test_a_receiver_answering_500_is_retried_until_the_bound_and_the_failure_is_in_the_log(
    company, receiver, django_capture_on_commit_callbacks
):
    endpoint = create_endpoint(company, receiver.url(), ["*"])
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = announce(company)

    assert len(receiver.received) == webhooks.MAX_ATTEMPTS == 5
    assert {r.headers["X-Portal-Delivery"] for r in receiver.received} == {
        str(delivery.delivery_id)
    }
    log = client_for(company.alice).get(f"{webhooks_url(company.a)}{endpoint['id']}/deliveries/")
    [entry] = log.json()["results"]
    assert entry["status"] == "failed"
    assert entry["attempts"] == 5
    assert entry["last_status_code"] == 500
    assert "500" in entry["last_error"] and "receiver is down" in entry["last_error"]
    assert entry["next_attempt_at"] is None


def test_a_redirect_is_not_followed_and_the_log_says_to_use_the_final_url(
    company, receiver, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["*"])
    receiver.status = 302
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = announce(company)
    assert {r.path for r in receiver.received} == {"/hooks/portal"}
    with tenant_scope(company.a):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.FAILED, 302)
    assert "point the endpoint at the final URL" in delivery.last_error


def test_retries_back_off_exponentially_from_the_configured_base(company, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    create_endpoint(company, receiver.url(), ["*"])
    receiver.status = 503
    [delivery] = announce(company)  # not committed: nothing enqueued, the test drives attempts
    with tenant_scope(company.a):
        waits = [
            webhooks.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id)).retry_in
            for _ in range(5)
        ]
    assert waits == [30, 60, 120, 240, None]
    with tenant_scope(company.a):
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


def test_a_delivered_delivery_is_not_sent_again_when_the_task_runs_twice(
    company, receiver, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["*"])
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = announce(company)
    for _ in range(2):
        outcome = tasks.deliver_webhook.apply(
            kwargs={"tenant_id": company.a.pk, "delivery_id": str(delivery.delivery_id)}
        ).get()
        assert outcome == "delivered"
    assert len(receiver.received) == 1


def test_the_task_returns_early_when_its_delivery_is_gone(company, receiver):
    create_endpoint(company, receiver.url(), ["*"])
    [delivery] = announce(company)
    with tenant_scope(company.a):
        delivery.delete()
    outcome = tasks.deliver_webhook.apply(
        kwargs={"tenant_id": company.a.pk, "delivery_id": str(delivery.delivery_id)}
    ).get()
    assert outcome == "gone"
    assert receiver.received == []


def test_an_endpoint_only_receives_the_events_it_subscribed_to(
    company, receiver, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url("/deployments"), ["deployment.approved"])
    create_endpoint(company, receiver.url("/everything"), ["*"])
    create_endpoint(company, receiver.url("/models"), ["model.registered"])
    paused = create_endpoint(company, receiver.url("/paused"), ["deployment.approved"])
    client_for(company.alice).patch(
        f"{webhooks_url(company.a)}{paused['id']}/", {"active": False}, format="json"
    )

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = announce(company, "deployment.approved")

    assert len(deliveries) == 2
    assert sorted(r.path for r in receiver.received) == ["/deployments", "/everything"]


def test_a_failed_delivery_is_redelivered_by_an_owner(
    company, receiver, django_capture_on_commit_callbacks
):
    endpoint = create_endpoint(company, receiver.url(), ["*"])
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = announce(company)
    receiver.status = 204
    redeliver = (
        f"{webhooks_url(company.a)}{endpoint['id']}/deliveries/{delivery.delivery_id}/redeliver/"
    )
    alice = client_for(company.alice)
    with django_capture_on_commit_callbacks(execute=True):
        answer = alice.post(redeliver)
    assert answer.status_code == 202
    with tenant_scope(company.a):
        delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 204)
    assert len(receiver.received) == 6
    again = alice.post(redeliver)
    assert again.status_code == 409
    assert "Only failed deliveries" in again.json()["detail"]


def test_a_rolled_back_change_announces_nothing(
    company, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["*"])
    with (
        django_capture_on_commit_callbacks(execute=True),
        suppress(RuntimeError),
        transaction.atomic(),
    ):
        announce(company, emails=["ops@example.com"])
        raise RuntimeError("the announced change failed")
    assert receiver.received == []
    assert mailoutbox == []
    with tenant_scope(company.a):
        assert not WebhookDelivery.objects.exists()


# --- Addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://240.0.0.1/hook",
    ],
)
def test_a_private_address_is_refused_when_private_hosts_are_not_allowed(company, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    answer = client_for(company.alice).post(
        webhooks_url(company.a), {"url": url, "events": ["*"]}, format="json"
    )
    assert answer.status_code == 400
    assert "not a public address" in answer.json()["detail"]
    assert "WEBHOOK_ALLOW_PRIVATE_HOSTS" in answer.json()["detail"]


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_metadata_address_is_refused_and_no_setting_is_offered_for_it(
    company, settings, allow_private
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = allow_private
    answer = client_for(company.alice).post(
        webhooks_url(company.a),
        {"url": "http://169.254.169.254/latest/meta-data/", "events": ["*"]},
        format="json",
    )
    assert answer.status_code == 400
    assert "metadata address, which the portal never calls" in answer.json()["detail"]
    assert "WEBHOOK_ALLOW_PRIVATE_HOSTS" not in answer.json()["detail"]


def test_a_public_address_is_accepted_when_private_hosts_are_not_allowed(company, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    answer = client_for(company.alice).post(
        webhooks_url(company.a), {"url": "https://8.8.8.8/hook", "events": ["*"]}, format="json"
    )
    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/hook", "must start with https://"),
        ("https:///hook", "must name a host"),
        ("https://user:pass@example.com/hook", "Leave user names and passwords out"),
        ("https://example.com:99999/hook", "port"),
    ],
)
def test_a_url_that_is_not_http_is_refused_with_what_to_fix(company, url, says):
    answer = client_for(company.alice).post(
        webhooks_url(company.a), {"url": url, "events": ["*"]}, format="json"
    )
    assert answer.status_code == 400
    assert says in answer.json()["detail"]


def test_an_endpoint_whose_address_is_private_by_delivery_time_is_not_sent_to(
    company, receiver, settings, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["*"])
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = announce(company)
    assert receiver.received == []
    with tenant_scope(company.a):
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "not a public address" in delivery.last_error


# --- Email --------------------------------------------------------------------------------------


def test_emails_go_through_djangos_email_backend_after_commit(
    company, eager_celery, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.DEFAULT_FROM_EMAIL = "portal@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        announce(
            company,
            emails=["ops@example.com", "", "  ", "OPS@example.com", "lead@example.com", "nope"],
        )
        assert mailoutbox == []  # not before the commit
    assert [m.to for m in mailoutbox] == [["ops@example.com"], ["lead@example.com"]]
    assert {m.from_email for m in mailoutbox} == {"portal@example.com"}
    assert mailoutbox[0].subject == "[Acme Retail] deployment.approved"
    assert '"model": "churn"' in mailoutbox[0].body


def test_an_email_carries_the_subject_and_body_it_was_given(
    company, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        announce(
            company,
            emails=["ops@example.com"],
            subject="Churn v3 is approved\n",
            body="Deploy when ready.",
        )
    [mail] = mailoutbox
    assert (mail.subject, mail.body) == ("Churn v3 is approved", "Deploy when ready.")


# --- API ----------------------------------------------------------------------------------------


def test_an_owner_creates_an_endpoint_and_sees_its_secret_once(company):
    alice = client_for(company.alice)
    created = create_endpoint(company, "https://8.8.8.8/hook", ["model.registered", "*"])
    assert len(created["secret"]) >= 40
    assert created["events"] == ["*"]
    assert created["created_by"] == "alice"
    listed = alice.get(webhooks_url(company.a)).json()["results"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in alice.get(f"{webhooks_url(company.a)}{created['id']}/").json()


def test_event_names_must_be_dotted_lowercase_words(company):
    answer = client_for(company.alice).post(
        webhooks_url(company.a),
        {"url": "https://8.8.8.8/hook", "events": ["Deployment Approved"]},
        format="json",
    )
    assert answer.status_code == 400
    assert "like deployment.approved" in answer.json()["detail"]


@pytest.mark.parametrize("person", ["ava", "amir"])
def test_a_viewer_or_engineer_can_neither_change_nor_read_endpoints_or_their_delivery_log(
    company, person
):
    endpoint = create_endpoint(company, "https://8.8.8.8/hook", ["*"])
    announce(company)
    client = client_for(getattr(company, person))
    url = webhooks_url(company.a)
    refused = client.post(url, {"url": "https://8.8.8.8/x", "events": ["*"]}, format="json")
    assert refused.status_code == 403
    assert "manage" in refused.json()["detail"]
    assert (
        client.patch(f"{url}{endpoint['id']}/", {"active": False}, format="json").status_code == 403
    )
    assert client.delete(f"{url}{endpoint['id']}/").status_code == 403
    for read in (url, f"{url}{endpoint['id']}/", f"{url}{endpoint['id']}/deliveries/"):
        answer = client.get(read)
        assert answer.status_code == 403, read
        assert "8.8.8.8" not in answer.content.decode()


def test_a_read_token_cannot_read_endpoint_urls_or_the_delivery_log(company):
    endpoint = create_endpoint(company, "https://8.8.8.8/hook", ["*"])
    announce(company)
    _, token = make_token(company.a, ["read"])
    client = client_for(token=token)
    url = webhooks_url(company.a)
    for read in (url, f"{url}{endpoint['id']}/", f"{url}{endpoint['id']}/deliveries/"):
        answer = client.get(read)
        assert answer.status_code == 403, read
        assert "8.8.8.8" not in answer.content.decode()


def test_tenant_b_gets_a_404_for_as_endpoint_and_its_deliveries(company):
    endpoint = create_endpoint(company, "https://8.8.8.8/hook", ["*"])
    [delivery] = announce(company)
    bob = client_for(company.bob)
    a_base = f"{webhooks_url(company.a)}{endpoint['id']}/"
    calls = [
        ("get", webhooks_url(company.a), None),
        ("post", webhooks_url(company.a), {"url": "https://8.8.8.8/x", "events": ["*"]}),
        ("get", a_base, None),
        ("patch", a_base, {"active": False}),
        ("delete", a_base, None),
        ("get", f"{a_base}deliveries/", None),
        ("post", f"{a_base}deliveries/{delivery.delivery_id}/redeliver/", None),
    ]
    for method, path, body in calls:
        answer = getattr(bob, method)(path, body, format="json")
        missing = getattr(bob, method)(
            path.replace(company.a.slug, "no-such-unit"), body, format="json"
        )
        assert answer.status_code == 404, (method, path)
        assert answer.content == missing.content, (method, path)
        # in his own tenant, A's endpoint is just as missing
        own = path.replace(company.a.slug, company.b.slug)
        if own != webhooks_url(company.b):
            assert getattr(bob, method)(own, body, format="json").status_code == 404, own
    with tenant_scope(company.a):
        delivery.refresh_from_db()
        assert delivery.endpoint.active


def test_creating_updating_and_deleting_an_endpoint_is_audited_once_each_without_the_secret(
    company,
):
    alice = client_for(company.alice)
    endpoint = create_endpoint(company, "https://8.8.8.8/hook", ["deployment.approved"])
    detail = f"{webhooks_url(company.a)}{endpoint['id']}/"
    alice.patch(detail, {"events": ["deployment.approved", "model.registered"]}, format="json")
    alice.patch(detail, {"events": ["model.registered", "deployment.approved"]}, format="json")
    assert alice.delete(detail).status_code == 204
    with tenant_scope(company.a):
        events = list(
            AuditEvent.objects.filter(object_type="webhook_endpoint").order_by("sequence")
        )
    assert [e.action for e in events] == ["webhook.created", "webhook.updated", "webhook.deleted"]
    assert {e.actor_label for e in events} == {"alice"}
    assert events[1].before == {"events": ["deployment.approved"]}
    assert events[1].after == {"events": ["deployment.approved", "model.registered"]}
    assert events[2].before["url"] == "https://8.8.8.8/hook"
    for event in events:
        assert endpoint["secret"] not in repr(event.before) + repr(event.after)


def test_the_delivery_log_is_newest_first_and_its_query_count_does_not_grow(company):
    endpoint = create_endpoint(company, "https://8.8.8.8/hook", ["*"])
    alice = client_for(company.alice)
    log = f"{webhooks_url(company.a)}{endpoint['id']}/deliveries/"

    def queries_for_the_log() -> int:
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            assert alice.get(log).status_code == 200
        return len(queries)

    announce(company, "model.registered")
    few = queries_for_the_log()
    for _ in range(5):
        announce(company)
    assert queries_for_the_log() == few
    events = [e["event"] for e in alice.get(log).json()["results"]]
    assert events == ["deployment.approved"] * 5 + ["model.registered"]


def test_the_endpoint_list_query_count_does_not_grow(company):
    alice = client_for(company.alice)

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            assert alice.get(webhooks_url(company.a)).status_code == 200
        return len(queries)

    create_endpoint(company, "https://8.8.8.8/one", ["*"])
    one = queries_for_the_list()
    for n in range(4):
        create_endpoint(company, f"https://8.8.8.8/{n}", ["*"])
    assert queries_for_the_list() == one


def test_the_schema_says_a_delivery_not_in_flight_has_no_in_flight_until(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    field = schema["components"]["schemas"]["WebhookDelivery"]["properties"]["in_flight_until"]
    assert field.get("nullable") is True
