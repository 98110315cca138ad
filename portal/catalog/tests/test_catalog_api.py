"""The catalog API: search, metadata edits, register-from-run sources, sync, webhooks, outages.

Registering from a run, its checks and its queued job: ``test_registration.py``."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.test import Client

from governance.models import AuditEvent
from governance.tests.builders import make_version
from portal.catalog.models import RegisteredModel, SyncRun
from portal.catalog.tests.builders import sync
from portal.catalog.webhooks import sign
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def models_url(tenant, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.slug}/models/{suffix}"


@pytest.fixture
def catalog(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    mlflow_server.register("limit-setting", tenant=company.a.slug)
    mlflow_server.client.set_registered_model_alias("credit-scoring", "champion", "2")
    mlflow_server.client.set_registered_model_tag("limit-setting", "team", "risk")
    sync(company.a)
    return mlflow_server


def test_the_list_searches_filters_and_orders(company, catalog):
    amir = client_for(company.amir)

    def names(**params):
        return [m["name"] for m in amir.get(models_url(company.a), params).json()["results"]]

    assert names() == ["credit-scoring", "limit-setting"]
    assert names(q="limit") == ["limit-setting"]
    assert names(tag="team=risk") == ["limit-setting"]
    assert names(tag="team") == ["limit-setting"]
    assert names(alias="champion") == ["credit-scoring"]
    assert names(ordering="-name") == ["limit-setting", "credit-scoring"]
    with tenant_scope(company.a):
        RegisteredModel.objects.filter(name="credit-scoring").update(risk_tier="high")
    assert names(risk_tier="high") == ["credit-scoring"]
    assert names(risk_tier="unclassified") == ["limit-setting"]
    first = amir.get(models_url(company.a)).json()["results"][0]
    assert (first["latest_version"], first["version_count"]) == (2, 2)
    bad = amir.get(models_url(company.a), {"ordering": "password"})
    assert bad.status_code == 400 and "ordering" in bad.json()["detail"]


@pytest.mark.parametrize("page_size", [10, 100, 500])
def test_the_list_uses_the_same_number_of_queries_whatever_the_page_size(
    company, catalog, page_size, django_assert_num_queries
):
    amir = client_for(company.amir)
    # tenant, membership, count, page: the page's size never adds a query
    with django_assert_num_queries(4):
        amir.get(models_url(company.a), {"page_size": page_size})


def test_engineers_edit_catalog_metadata_viewers_cannot_and_edits_are_audited(company, catalog):
    url = models_url(company.a, "credit-scoring/")
    body = {"owner": "amir@example.com", "intended_use": "Retail credit decisions under 50k."}
    changed = client_for(company.amir).patch(url, body, format="json")
    assert changed.status_code == 200 and changed.json()["owner"] == "amir@example.com"
    assert client_for(company.ava).patch(url, {"owner": "ava"}, format="json").status_code == 403
    ignored = client_for(company.amir).patch(
        url, {"name": "renamed", "tenant": company.b.pk}, format="json"
    )
    assert ignored.status_code == 200 and ignored.json()["name"] == "credit-scoring"
    with tenant_scope(company.a):
        event = AuditEvent.objects.get(action="model.metadata_updated")
    assert event.after == body and event.actor_label == "amir"


def test_another_tenants_token_gets_a_404_on_every_catalog_endpoint(company, catalog):
    from tests.builders import make_token

    _, secret = make_token(company.b, ["read", "write"])
    b_pipeline = client_for(token=secret)
    for path in ("", "credit-scoring/", "credit-scoring/versions/", "credit-scoring/versions/1/"):
        answer = b_pipeline.get(models_url(company.a, path))
        missing = b_pipeline.get(models_url(company.a, path).replace(company.a.slug, "nowhere"))
        assert answer.status_code == 404 and answer.content == missing.content
    assert b_pipeline.get(f"/api/v1/tenants/{company.a.slug}/sync/").status_code == 404


BAD_SOURCES = [
    {"artifact_path": "/etc/passwd"},
    {"artifact_path": "../other-run/model"},
    {"artifact_path": "model/../../secrets"},
    {"artifact_path": "%2e%2e/model"},
    {"artifact_path": "..%2fmodel"},
    {"artifact_path": "file:///etc/passwd"},
    {"artifact_path": "s3://bucket/model"},
    {"artifact_path": "model\\..\\..\\x"},
    {"artifact_path": "model?x=1"},
    {"artifact_path": "~/model"},
    {"run_id": "../../etc"},
    {"run_id": "file:/tmp/run"},
    {"logged_model_id": "models:/m-1/../../x"},
    {"logged_model_id": "mlflow-artifacts:/1/models"},
]


@pytest.mark.parametrize("bad", BAD_SOURCES)
def test_a_source_uri_path_or_scheme_from_the_caller_is_refused_and_never_sent_to_mlflow(
    company, mlflow_server, bad
):
    body = {"name": f"{company.a.slug}-sneaky", "run_id": mlflow_server.run_id, **bad}
    answer = client_for(company.amir).post(models_url(company.a), body, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"]
    assert mlflow_server.client.search_registered_models() == []


def test_asking_for_a_sync_queues_it_and_runs_are_listed(
    company, catalog, eager_celery, django_capture_on_commit_callbacks
):
    amir = client_for(company.amir)
    with django_capture_on_commit_callbacks(execute=True):
        answer = amir.post(f"/api/v1/tenants/{company.a.slug}/sync/")
    assert answer.status_code == 202
    runs = amir.get(f"/api/v1/tenants/{company.a.slug}/sync/").json()["results"]
    assert [(r["trigger"], r["status"]) for r in runs[:2]] == [
        ("api", "succeeded"),
        ("schedule", "succeeded"),
    ]
    assert (
        client_for(company.ava).post(f"/api/v1/tenants/{company.a.slug}/sync/").status_code == 403
    )


def _delivery(secret: str, body: dict, *, age: int = 0, delivery_id: str | None = None) -> dict:
    text = json.dumps(body)
    delivery_id = delivery_id or str(uuid.uuid4())
    timestamp = str(int(time.time()) - age)
    return {
        "data": text,
        "content_type": "application/json",
        "HTTP_X_MLFLOW_DELIVERY_ID": delivery_id,
        "HTTP_X_MLFLOW_TIMESTAMP": timestamp,
        "HTTP_X_MLFLOW_SIGNATURE": sign(
            secret=secret, delivery_id=delivery_id, timestamp=timestamp, body=text
        ),
    }


def test_a_webhook_with_a_bad_signature_or_an_old_timestamp_is_refused(company, catalog, settings):
    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-shared-with-mlflow"
    event = {
        "entity": "model_version",
        "action": "created",
        "data": {"name": "credit-scoring", "version": "3"},
    }
    forged = _delivery("another-secret", event)
    assert Client().post("/api/v1/webhooks/mlflow/", **forged).status_code == 401
    stale = _delivery(settings.MLFLOW_WEBHOOK_SECRET, event, age=3600)
    assert Client().post("/api/v1/webhooks/mlflow/", **stale).status_code == 401
    unsigned = Client().post(
        "/api/v1/webhooks/mlflow/", json.dumps(event), content_type="application/json"
    )
    assert unsigned.status_code == 401


def test_mlflow_delivers_over_plain_http_inside_where_the_portal_otherwise_redirects_to_https(
    company, settings
):
    # docker-compose's MLflow calls http://web:8000 on the compose network; the delivery's HMAC
    # signature, not the transport, is what the receiver trusts.
    settings.SECURE_SSL_REDIRECT = True
    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-shared-with-mlflow"
    event = {"entity": "model_version", "action": "created", "data": {"name": "x", "version": "1"}}
    forged = _delivery("another-secret", event)
    assert Client().post("/api/v1/webhooks/mlflow/", **forged).status_code == 401
    assert Client().get("/login/").status_code == 301


def test_a_good_webhook_syncs_just_that_model(
    company, catalog, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-shared-with-mlflow"
    client = catalog.client
    for name in ("credit-scoring", "limit-setting"):
        client.create_model_version(
            name,
            source=f"models:/{catalog.model_id}",
            run_id=catalog.run_id,
            model_id=catalog.model_id,
        )
    event = {
        "entity": "model_version",
        "action": "created",
        "data": {"name": "credit-scoring", "version": "3"},
    }
    delivery = _delivery(settings.MLFLOW_WEBHOOK_SECRET, event)
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post("/api/v1/webhooks/mlflow/", **delivery)
    assert answer.status_code == 202
    replay = Client().post("/api/v1/webhooks/mlflow/", **delivery)
    assert replay.status_code == 200 and replay.json()["detail"] == "Already received."
    with tenant_scope(company.a):
        versions = {m.name: m.versions.count() for m in RegisteredModel.objects.all()}
        assert SyncRun.objects.order_by("-started_at").first().trigger == "webhook"
    assert versions == {"credit-scoring": 3, "limit-setting": 1}


def test_the_detail_counts_versions_as_the_list_does(company):
    make_version(company.a, "credit-scoring", 1)
    make_version(company.a, "credit-scoring", 2)
    amir = client_for(company.amir)
    shown = amir.get(models_url(company.a, "credit-scoring/")).json()
    edited = amir.patch(
        models_url(company.a, "credit-scoring/"), {"owner": "Risk team"}, format="json"
    ).json()
    for model in (shown, edited):
        assert (model["latest_version"], model["version_count"]) == (2, 2)
