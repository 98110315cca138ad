"""The API's common ground: schema, docs, error shape, pagination bounds, request ids."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from tests.builders import client_for
from tests.processes import ROOT_DIR, AppServer


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_page_are_served_without_a_cdn(client: Client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/tenants/",
        "/api/v1/tenants/{tenant}/members/",
        "/api/v1/tenants/{tenant}/tokens/",
        "/api/v1/audit-events/",
    ):
        assert path in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_the_schema_generates_without_warnings():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            "/dev/null",
        ],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(company):
    answer = client_for(company.alice).get("/api/v1/nothing-here/")
    assert answer.status_code == 404
    assert answer.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.django_db
def test_validation_errors_name_the_field_in_a_sentence(company):
    answer = client_for(company.alice).post(
        f"/api/v1/tenants/{company.a.slug}/tokens/", {"scopes": ["read"]}, format="json"
    )
    body = answer.json()
    assert answer.status_code == 400
    assert body["code"] == "invalid"
    assert body["detail"] == "name: This field is required."
    assert body["errors"] == {"name": ["This field is required."]}


@pytest.mark.django_db
def test_pages_are_bounded_whatever_the_caller_asks(company):
    answer = client_for(company.adam).get("/api/v1/audit-events/", {"page_size": 100000})
    assert answer.status_code == 200
    assert len(answer.json()["results"]) <= 500


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["0", "-1", "ten", "1.5", "\u0663"])
def test_a_page_size_that_is_not_a_whole_number_is_refused(company, page_size):
    answer = client_for(company.adam).get("/api/v1/audit-events/", {"page_size": page_size})
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"page_size": ["Give a whole number from 1 to 500."]}


@pytest.mark.django_db
def test_a_body_in_a_media_type_the_operation_does_not_read_is_a_documented_415(company):
    admin = client_for(company.adam)
    answer = admin.post("/api/v1/tenants/", data="name=Gamma", content_type="text/plain")
    schema = admin.get("/api/schema/", {"format": "json"}).json()

    assert answer.status_code == 415 and answer.json()["code"] == "unsupported_media_type"
    documented = schema["paths"]["/api/v1/tenants/"]["post"]["responses"]["415"]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_security_headers(company):
    answer = client_for(company.alice).get(f"/api/v1/tenants/{company.a.slug}/")
    assert len(answer["X-Request-ID"]) >= 8
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in answer["Content-Security-Policy"]
    echoed = client_for(company.alice).get(
        f"/api/v1/tenants/{company.a.slug}/", HTTP_X_REQUEST_ID="trace-abcdef12"
    )
    assert echoed["X-Request-ID"] == "trace-abcdef12"


@pytest.mark.django_db
def test_health_check_reports_the_database(client: Client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_concurrent_first_calls_for_the_schema_in_a_fresh_process_all_get_it(tmp_path):
    app = AppServer(tmp_path / "gunicorn.log", env={"PORTAL_VAR_DIR": str(tmp_path / "var")})
    app.start(timeout=60)
    callers = 8
    barrier = threading.Barrier(callers)

    def fetch(_: int) -> tuple[int, bytes]:
        barrier.wait(timeout=30)
        url = f"{app.url}/api/schema/?format=json"
        try:
            with urllib.request.urlopen(url, timeout=120) as answer:  # noqa: S310 (loopback)
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    try:
        with ThreadPoolExecutor(callers) as pool:
            answers = list(pool.map(fetch, range(callers)))
    finally:
        app.stop()

    assert [status for status, _ in answers] == [200] * callers, app.output()
    assert len({body for _, body in answers}) == 1
    assert "/api/v1/tenants/" in json.loads(answers[0][1])["paths"]
