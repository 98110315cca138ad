"""``Idempotency-Key`` on the API's POSTs: a pipeline that retries a request is answered, not
served twice."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from governance.tests.builders import classify, make_version
from portal import tasks
from portal.core.api.errors import NOT_FOUND_BODY
from portal.core.models import IdempotencyKey
from portal.deployments import workflow
from portal.deployments.models import Deployment
from tenants.scoping import tenant_scope
from tenants.services import token_revoke
from tests.builders import TEST_ACTOR, client_for, make_token

pytestmark = pytest.mark.django_db

DEPLOYMENTS = "/api/v1/tenants/acme-retail/deployments/"
STAGING = {"model": "churn", "version": 1, "environment": "staging", "instance_type": "cpu.small"}


@pytest.fixture
def churn(company):
    version = make_version(company.a, "churn")
    classify(company.a, version, "minimal")
    return version


@pytest.fixture
def pipeline(company):
    _, secret = make_token(company.a, ["read", "write", "deploy"])
    return client_for(token=secret)


def deployments_of(tenant) -> int:
    with tenant_scope(tenant):
        return Deployment.objects.count()


def test_a_repeated_post_with_the_same_idempotency_key_makes_one_request(company, churn, pipeline):
    first = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    again = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert deployments_of(company.a) == 1


def test_without_a_key_every_post_is_a_request_of_its_own(company, churn, pipeline):
    pipeline.post(DEPLOYMENTS, STAGING, format="json")
    pipeline.post(DEPLOYMENTS, STAGING, format="json")
    assert deployments_of(company.a) == 2


def test_a_different_body_under_the_same_key_is_a_409_that_says_to_use_a_new_key(
    company, churn, pipeline
):
    pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    other = pipeline.post(
        DEPLOYMENTS, {**STAGING, "replicas": 2}, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
    )

    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert "different request" in other.json()["detail"]
    assert deployments_of(company.a) == 1


@pytest.mark.django_db(transaction=True)
def test_a_repeat_sent_while_the_first_is_still_being_answered_is_a_409_in_progress(
    company, churn, monkeypatch
):
    _, secret = make_token(company.a, ["read", "write", "deploy"])
    entered, release = threading.Event(), threading.Event()
    real = workflow.deployment_request

    def slow(**kwargs):
        entered.set()
        release.wait(10)
        return real(**kwargs)

    def post_from_another_process():
        try:
            return client_for(token=secret).post(
                DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
            )
        finally:
            connection.close()

    monkeypatch.setattr(workflow, "deployment_request", slow)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_from_another_process)
        assert entered.wait(10)
        again = client_for(token=secret).post(
            DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
        )
        release.set()
        first_answer = first.result(timeout=20)

    assert again.status_code == 409
    assert again.json()["code"] == "idempotency_key_in_progress"
    assert "in progress" in again.json()["detail"]
    assert first_answer.status_code == 201
    assert deployments_of(company.a) == 1


def test_a_key_longer_than_200_characters_is_a_400_that_says_so(company, churn, pipeline):
    answer = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201)

    assert answer.status_code == 400
    assert "200 characters" in answer.json()["detail"]
    assert deployments_of(company.a) == 0


def test_the_same_key_from_another_caller_is_their_own_request(company, churn, pipeline):
    pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    by_amir = client_for(company.amir).post(
        DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
    )

    assert by_amir.status_code == 201
    assert "Idempotent-Replayed" not in by_amir
    assert deployments_of(company.a) == 2


def test_another_tenant_reusing_a_key_gets_the_404_of_a_missing_unit_not_the_stored_answer(
    company, churn
):
    client_for(company.amir).post(
        DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
    )
    answer = client_for(company.bob).post(
        DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
    )

    assert answer.status_code == 404
    assert answer.json() == NOT_FOUND_BODY


def test_a_revoked_token_is_refused_rather_than_answered_from_the_store(company, churn):
    token, secret = make_token(company.a, ["read", "write", "deploy"])
    pipeline = client_for(token=secret)
    pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    with tenant_scope(company.a):
        token_revoke(actor=TEST_ACTOR, token=token)

    again = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")

    assert again.status_code == 401


def test_a_server_error_is_not_kept_and_the_retry_does_the_work(
    company, churn, pipeline, monkeypatch
):
    real = workflow.deployment_request

    def fails_once(**kwargs):
        monkeypatch.setattr(workflow, "deployment_request", real)
        raise RuntimeError("the database went away mid-request")

    monkeypatch.setattr(workflow, "deployment_request", fails_once)
    failed = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    retried = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert deployments_of(company.a) == 1


def test_a_key_is_forgotten_after_a_day_and_the_clean_up_deletes_it(
    company, churn, pipeline, settings
):
    pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    stored = IdempotencyKey.objects.get()
    assert stored.expires_at - stored.created_at == timedelta(hours=24)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert tasks.expire_idempotency_keys() == 1
    assert not IdempotencyKey.objects.exists()
    again = pipeline.post(DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7")
    assert again.status_code == 201
    assert deployments_of(company.a) == 2
    assert "expire-idempotency-keys" in settings.CELERY_BEAT_SCHEDULE


def test_the_schema_documents_the_idempotency_key_header_on_posts(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    post = schema["paths"]["/api/v1/tenants/{tenant}/deployments/"]["post"]
    get = schema["paths"]["/api/v1/tenants/{tenant}/deployments/"]["get"]

    [header] = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and header["schema"]["maxLength"] == 200
    assert not any(p["name"] == "Idempotency-Key" for p in get.get("parameters", []))


def test_a_form_upload_with_a_key_from_a_browser_session_is_answered_not_a_server_error(
    company, churn, settings
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(company.amir)
    browser.cookies[settings.CSRF_COOKIE_NAME] = csrf = "c" * 32
    answer = browser.post(
        "/api/v1/tenants/acme-retail/models/churn/versions/1/baseline/",
        {"source": "upload", "file": io.BytesIO(b"a,b\n1,2\n")},
        HTTP_IDEMPOTENCY_KEY="baseline-1",
        HTTP_X_CSRFTOKEN=csrf,
    )

    assert answer.status_code < 500, answer.content


def test_a_new_tokens_secret_is_not_kept_and_a_repeat_is_refused_rather_than_a_second_token(
    company,
):
    owner = client_for(company.alice)
    wanted = {"name": "ci", "scopes": ["read"]}
    tokens = "/api/v1/tenants/acme-retail/tokens/"

    first = owner.post(tokens, wanted, format="json", HTTP_IDEMPOTENCY_KEY="token-1")
    again = owner.post(tokens, wanted, format="json", HTTP_IDEMPOTENCY_KEY="token-1")

    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["code"] == "idempotency_key_used"
    assert "shown once" in again.json()["detail"]
    assert first.json()["token"].encode() not in bytes(IdempotencyKey.objects.get().body)
    assert owner.get(tokens).json()["count"] == 1


def test_a_key_whose_first_request_never_got_an_answer_is_served_again_after_ten_minutes(
    company, churn
):
    token, secret = make_token(company.a, ["read", "write", "deploy"])
    IdempotencyKey.objects.create(
        caller=f"token:{token.prefix}",
        key="release-7",
        fingerprint="the request of a process that died",
        created_at=timezone.now() - timedelta(minutes=11),
        expires_at=timezone.now() + timedelta(hours=23),
    )

    answer = client_for(token=secret).post(
        DEPLOYMENTS, STAGING, format="json", HTTP_IDEMPOTENCY_KEY="release-7"
    )

    assert answer.status_code == 201
    assert deployments_of(company.a) == 1
