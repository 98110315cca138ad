"""Redis stopped, or up but not answering: the API still answers within 5 s, and no work is lost.

Work a request enqueues waits in the outbox (``portal.core.outbox``) when the broker cannot take
it, and beat's ``portal.relay_outbox`` sends it once Redis is back. Reads never needed Redis;
sign-in's rate limiter lets people through while its cache is down; an MLflow webhook gets a 503
to retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from django.test import Client

from portal.catalog.models import SyncRun, SyncStatus
from portal.catalog.webhooks import sign
from portal.core.models import TaskOutbox
from tenants.scoping import tenant_scope
from tests.builders import PASSWORD, client_for, make_token
from tests.processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ANSWER_WITHIN = 5.0  # seconds


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_with_redis_stopped_a_sync_request_is_accepted_and_runs_once_redis_is_back(
    company, broker, start_worker, fake_mlflow
):
    from portal.tasks import relay_outbox

    broker.stop()
    response, took = timed(
        lambda: client_for(company.alice).post(f"/api/v1/tenants/{company.a.slug}/sync/")
    )
    assert response.status_code == 202, response.json()
    assert took < ANSWER_WITHIN, f"answered in {took:.2f} s"
    kept = TaskOutbox.objects.get()
    assert kept.task_name == "catalog.sync_tenant"
    assert kept.kwargs == {"tenant_id": company.a.pk, "trigger": "api", "deep": True}

    broker.start()  # the same port: Redis is back
    worker = start_worker(MLFLOW_TRACKING_URI=fake_mlflow.url)
    relay_outbox.delay()  # what beat sends every 30 seconds

    def synced() -> bool:
        with tenant_scope(company.a):
            return SyncRun.objects.filter(trigger="api", status=SyncStatus.SUCCEEDED).exists()

    assert wait_for(synced, seconds=60), f"the kept sync never ran:\n{worker.output()}"
    assert not TaskOutbox.objects.exists()


def test_with_redis_not_answering_a_sync_request_is_still_accepted_within_5_s(company, broker):
    broker.freeze()  # connections are accepted, nothing is ever answered
    response, took = timed(
        lambda: client_for(company.alice).post(f"/api/v1/tenants/{company.a.slug}/sync/")
    )
    assert response.status_code == 202, response.json()
    assert took < ANSWER_WITHIN, f"answered in {took:.2f} s"
    assert TaskOutbox.objects.filter(task_name="catalog.sync_tenant").count() == 1


def test_with_redis_stopped_reads_answer_and_people_can_still_sign_in(company, broker):
    _, token = make_token(company.a, ["read"])
    broker.stop()

    response, took = timed(
        lambda: client_for(token=token).get(f"/api/v1/tenants/{company.a.slug}/models/")
    )
    assert response.status_code == 200, response.json()
    assert took < ANSWER_WITHIN, f"answered in {took:.2f} s"

    response, took = timed(
        lambda: Client().post("/login/", {"username": "alice", "password": PASSWORD})
    )
    assert response.status_code == 302, response.content[:500]  # signed in, to the home page
    assert took < ANSWER_WITHIN, f"answered in {took:.2f} s"


def test_with_redis_stopped_an_mlflow_webhook_is_asked_to_deliver_again(company, broker, settings):
    settings.MLFLOW_WEBHOOK_SECRET = "failure-drill-secret"
    body = json.dumps({"entity": "model_version", "action": "created", "data": {"name": "m"}})
    timestamp = str(int(time.time()))
    headers = {
        "HTTP_X_MLFLOW_DELIVERY_ID": "failure-drill-1",
        "HTTP_X_MLFLOW_TIMESTAMP": timestamp,
        "HTTP_X_MLFLOW_SIGNATURE": sign(
            secret=settings.MLFLOW_WEBHOOK_SECRET,
            delivery_id="failure-drill-1",
            timestamp=timestamp,
            body=body,
        ),
    }
    broker.stop()

    response, took = timed(
        lambda: Client().post(
            "/api/v1/webhooks/mlflow/", body, content_type="application/json", **headers
        )
    )
    assert response.status_code == 503
    assert response.json()["detail"].endswith("deliver it again in a minute.")
    assert took < ANSWER_WITHIN, f"answered in {took:.2f} s"
