"""Bad bodies get a 4xx in the JSON error shape at the API and the gateway, never a 500, and every
answer under /api/ and /serve/ is JSON, with DEBUG on as with it off.

The API's shape is ``{"code", "detail"}``; the gateway speaks MLflow's scoring protocol,
``{"error_code", "message"}``. A client's mistake is logged in one line, without a traceback.
"""

from __future__ import annotations

import json
import logging
from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.test import APIClient

from chargeback.tests.builders import live_deployment
from governance.tests.builders import make_version
from portal.deployments.models import Deployment
from tenants.scoping import tenant_scope
from tests.builders import make_token

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

DEEP_JSON = "[" * 100_000 + "]" * 100_000
LONG_FIELD_CSV = "text\n" + "x" * 131_073 + "\n"


@pytest.fixture(autouse=True)
def debug_on(settings):
    """Development mode, where Django would otherwise answer with its debug pages."""
    settings.DEBUG = True


def gateway_call(path: str, body: bytes, *, content_type: str, token: str = "") -> tuple:
    """A request through the production entry point (``portal.wsgi``), as gunicorn makes it."""
    from portal.wsgi import application

    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "PATH_INFO": path,
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": BytesIO(body),
            "SERVER_NAME": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
        }
    )
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen: dict = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    # As Django's test client does: the test's transaction keeps its connection open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return seen["status"], seen["headers"], content


@pytest.fixture
def serving(company):
    """A live endpoint of tenant A whose server is ready, and a token that may predict."""
    deployment = live_deployment(company.a, name="scorer", live_from="2026-10-01 00:00:00")
    with tenant_scope(company.a):
        Deployment.objects.filter(pk=deployment.pk).update(
            serving={"state": "ready", "url": "http://127.0.0.1:9"}
        )
    _, token = make_token(company.a, ["predict"])
    return f"/serve/{company.a.slug}/scorer/invocations", token


def api_for(user) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user=user)
    return client


def assert_api_error(answer, status: int) -> dict:
    assert answer.status_code == status, answer.content[:300]
    assert answer["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) >= {"code", "detail"} and body["detail"].rstrip().endswith((".", ")"))
    return body


def assert_gateway_error(status: int, headers: dict, content: bytes, expected: int) -> dict:
    assert status == expected, content[:300]
    assert headers["Content-Type"] == "application/json"
    body = json.loads(content)
    assert set(body) == {"error_code", "message"}
    return body


def test_json_nested_a_hundred_thousand_deep_is_a_400_at_the_gateway(serving, caplog):
    path, token = serving

    answer = gateway_call(path, DEEP_JSON.encode(), content_type="application/json", token=token)

    body = assert_gateway_error(*answer, 400)
    assert "nest" in body["message"]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_csv_field_over_the_csv_limit_is_a_400_at_the_gateway(serving, caplog):
    path, token = serving

    answer = gateway_call(path, LONG_FIELD_CSV.encode(), content_type="text/csv", token=token)

    body = assert_gateway_error(*answer, 400)
    assert "CSV" in body["message"]
    assert not [r for r in caplog.records if r.exc_info]


def test_json_nested_a_hundred_thousand_deep_is_a_400_when_editing_a_model(company, caplog):
    make_version(company.a, name="churn")

    answer = api_for(company.amir).patch(
        f"/api/v1/tenants/{company.a.slug}/models/churn/",
        data=DEEP_JSON,
        content_type="application/json",
    )

    assert assert_api_error(answer, 400)["code"] == "invalid"
    assert not [r for r in caplog.records if r.exc_info]
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1


def test_json_nested_a_hundred_thousand_deep_is_a_400_at_the_policy_dry_run(company):
    answer = api_for(company.grace).post(
        "/api/v1/policies/dry-run/", data=DEEP_JSON, content_type="application/json"
    )

    assert_api_error(answer, 400)


def test_a_body_over_the_upload_limit_is_a_413_in_json(company, settings, caplog):
    body = json.dumps({"description": "x" * 3_400_000})

    answer = api_for(company.amir).patch(
        f"/api/v1/tenants/{company.a.slug}/models/churn/",
        data=body,
        content_type="application/json",
    )

    assert assert_api_error(answer, 413)["code"] == "too_large"
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}" in answer.json()["detail"]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_body_that_is_not_utf8_is_a_400_in_json(company):
    answer = api_for(company.grace).post(
        "/api/v1/policies/dry-run/",
        data=b'{"context": "\xff\xfe"}',
        content_type="application/json",
    )

    assert_api_error(answer, 400)


def test_an_api_route_that_does_not_exist_is_a_json_404(company):
    answer = api_for(company.alice).get("/api/v1/nope/")

    assert assert_api_error(answer, 404) == {"code": "not_found", "detail": "Not found."}
    assert b"urlpatterns" not in answer.content.lower()


def test_a_gateway_route_that_does_not_exist_is_a_json_404(company):
    status, headers, content = gateway_call(
        "/serve/x/y/nope", b"{}", content_type="application/json"
    )

    body = assert_gateway_error(status, headers, content, 404)
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_gateway_failure_is_a_json_500_without_the_debug_page(serving, monkeypatch, caplog):
    from portal.deployments.gateway import views

    def broken(*args, **kwargs):
        raise RuntimeError("the route table is broken")

    monkeypatch.setattr(views, "route_for", broken)
    path, token = serving

    answer = gateway_call(path, b"{}", content_type="application/json", token=token)

    body = assert_gateway_error(*answer, 500)
    assert "broken" not in body["message"]
    assert [r for r in caplog.records if r.exc_info], "a server error is logged with its traceback"


def test_a_decoding_error_of_the_portals_own_is_not_blamed_on_the_client():
    from portal.core.errors import request_error

    unreadable = json.JSONDecodeError("Expecting value", "<html>", 0)

    assert request_error(unreadable) is None  # say, MLflow answered HTML: a 500 of ours
    assert request_error(unreadable, decoding_body=True).status_code == 400
