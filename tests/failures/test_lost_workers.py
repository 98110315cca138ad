"""A worker killed mid-task, and one message delivered twice: the work still happens once.

The task is the delivery of a tenant's webhook (``tenants.deliver_webhook``). Tasks acknowledge
late, so a task whose worker vanished is never acknowledged, and Redis hands it to the next worker
once the visibility timeout (``CELERY_VISIBILITY_TIMEOUT_SECONDS``, short here) has passed. An
attempt claims the delivery with a lease before it sends, with no transaction open while it does:
a worker killed mid-send leaves it pending with its lease and the attempt counted, the next worker
sends it once that lease has ended, and a delivered delivery is never sent again.
"""

from __future__ import annotations

import time

import pytest

from tenants.models import DeliveryStatus, Tenant, WebhookDelivery, WebhookEndpoint
from tenants.notifications import notify, webhook_endpoint_create
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR
from tests.processes import RedisServer, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 2  # seconds before Redis hands an unacknowledged task to another worker
WORKER = {
    "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT),
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
}


@pytest.fixture
def endpoint(company, receiver, settings) -> WebhookEndpoint:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    with tenant_scope(company.a):
        return webhook_endpoint_create(
            actor=TEST_ACTOR, tenant=company.a, url=receiver.url, events=["*"], created_by=None
        )


def delivery_of(tenant: Tenant, delivery_id: str) -> WebhookDelivery:
    with tenant_scope(tenant):
        return WebhookDelivery.objects.get(delivery_id=delivery_id)


def broker_idle(redis: RedisServer) -> bool:
    """No task waiting in the queues, none taken and not yet acknowledged."""
    client = redis.client()
    waiting = client.llen("celery") + client.llen("webhooks")
    return waiting == 0 and client.hlen("unacked") == 0


def test_a_delivery_cut_off_by_a_killed_worker_is_delivered_once_by_the_next_worker(
    company, endpoint, receiver, broker, start_worker
):
    receiver.hold_first = True
    first = start_worker(**WORKER)
    with tenant_scope(company.a):
        [delivery] = notify(tenant_id=company.a.pk, event="failure.drill", payload={"n": 1})
    delivery_id = str(delivery.delivery_id)

    assert receiver.first_arrived.wait(timeout=60), f"nothing was delivered:\n{first.output()}"
    taken_by_first = time.monotonic()
    first.kill()
    cut_off = delivery_of(company.a, delivery_id)
    assert (cut_off.status, cut_off.attempts) == (DeliveryStatus.PENDING, 1)  # counted when claimed

    # Redis gives the task out again once it has been unacknowledged for the visibility timeout.
    time.sleep(max(0.0, taken_by_first + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    second = start_worker(**WORKER)
    assert wait_for(
        lambda: delivery_of(company.a, delivery_id).status == DeliveryStatus.DELIVERED, seconds=60
    ), f"the next worker did not deliver it:\n{second.output()}"
    assert wait_for(lambda: broker_idle(broker), seconds=10), "the task was not acknowledged"

    delivered = delivery_of(company.a, delivery_id)
    assert delivered.attempts == 2  # the cut-off attempt and the one that was answered
    assert receiver.accepted == [delivery_id]  # one delivery answered, and so one event
    # The cut-off POST reached the receiver too, with the same delivery id to recognise it by.
    assert receiver.received == [delivery_id, delivery_id]


def test_the_same_delivery_task_sent_twice_reaches_the_receiver_once(
    company, endpoint, receiver, broker, start_worker
):
    from portal.celery import app

    with tenant_scope(company.a):
        delivery = WebhookDelivery.objects.create(
            tenant=company.a, endpoint=endpoint, event="failure.drill", payload={"n": 2}
        )
    message = {"tenant_id": company.a.pk, "delivery_id": str(delivery.delivery_id)}
    for _ in range(2):  # the same message, task id and all, as a broker redelivery would be
        app.send_task("tenants.deliver_webhook", kwargs=message, task_id="failure-drill-twice")
    assert broker.client().llen("webhooks") == 2  # deliveries have a queue of their own

    worker = start_worker(**WORKER)
    assert wait_for(lambda: broker_idle(broker), seconds=60), (
        f"the worker did not run both:\n{worker.output()}"
    )

    delivered = delivery_of(company.a, str(delivery.delivery_id))
    assert (delivered.status, delivered.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert receiver.received == receiver.accepted == [str(delivery.delivery_id)]
