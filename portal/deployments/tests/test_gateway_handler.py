"""The WSGI entry point sends predictions through the gateway's lean handler."""

from __future__ import annotations

import json
from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest

pytestmark = pytest.mark.django_db


def call(
    path: str, *, method: str = "POST", headers: dict | None = None
) -> tuple[str, dict, bytes]:
    from portal.wsgi import application

    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "PATH_INFO": path,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": "2",
            "wsgi.input": BytesIO(b"{}"),
            "SERVER_NAME": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            **(headers or {}),
        }
    )
    seen: dict = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(response_headers)

    body = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], body


def test_a_prediction_without_a_token_gets_the_scoring_protocols_401_and_no_session_cookie():
    status, headers, body = call("/serve/acme-retail/credit-scorer-staging/invocations")
    assert status.startswith("401")
    assert json.loads(body)["error_code"] == "UNAUTHENTICATED"
    assert "X-Request-ID" in headers
    assert "Set-Cookie" not in headers and "Content-Security-Policy" not in headers


def test_pages_still_take_the_portals_full_handler():
    status, headers, _ = call("/login/", method="GET")
    assert status.startswith("200")
    assert "Content-Security-Policy" in headers


def test_a_token_over_its_rate_limit_gets_a_429_with_retry_after(company, monkeypatch):
    from django.test import Client

    from portal.deployments.gateway import views
    from portal.deployments.gateway.routes import RateLimiter
    from tests.builders import make_token

    monkeypatch.setattr(views, "_limiter", RateLimiter("2/min"))
    _, token = make_token(company.a, ["predict"])
    client = Client()
    url = f"/serve/{company.a.slug}/credit-scorer-staging/invocations"
    answers = [
        client.post(
            url, data="{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [404, 404, 429]
    assert answers[2].json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert int(answers[2]["Retry-After"]) >= 1
