"""The gateway as a process of its own (``portal.gateway_wsgi`` under gunicorn), on the test
database and the test Redis: it serves predictions only, and a revoked token stops working there
within a second although the process keeps tokens for five."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tenants import services
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, make_token
from tests.processes import AppServer, database_url, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

REFUSED_WITHIN = 1.0  # seconds after the revocation is committed


def gateway_env(folder: Path) -> dict[str, str]:
    if not settings.REDIS_URL:
        pytest.skip("the gateway process shares the cache with this test: set REDIS_URL")
    return {
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
        "PORTAL_VAR_DIR": str(folder / "var"),
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
    }


@pytest.fixture(scope="module")
def gateway(django_db_setup, tmp_path_factory) -> Iterator[AppServer]:
    """One gateway process for the module (each test's rows are its own: new tokens)."""
    folder = tmp_path_factory.mktemp("gateway")
    server = AppServer(folder / "gateway.log", env=gateway_env(folder), wsgi="portal.gateway_wsgi")
    yield server.start(timeout=90)
    server.stop()


def get(url: str, token: str = "") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_gateway_process_answers_its_health_check_and_serves_nothing_but_predictions(
    gateway,
):
    assert get(f"{gateway.url}/healthz") == (200, {"status": "ok"})
    status, body = get(f"{gateway.url}/api/v1/tenants/")
    assert (
        status == 404 and body["detail"] == "This process serves predictions only, under /serve/."
    )
    status, body = get(f"{gateway.url}/serve/acme-retail/credit/ping")
    assert status == 401 and body["error_code"] == "UNAUTHENTICATED"


def test_a_revoked_token_is_refused_by_a_running_gateway_within_a_second(company, gateway):
    token, raw = make_token(company.a, ["predict"])
    ping = f"{gateway.url}/serve/{company.a.slug}/no-such-endpoint/ping"
    # The gateway knows the token now and keeps it (the endpoint does not exist: 404, not 401).
    assert get(ping, raw)[0] == 404
    assert get(ping, raw)[0] == 404

    with tenant_scope(company.a):
        services.token_revoke(actor=TEST_ACTOR, token=token)
    revoked_at = time.monotonic()
    answers = []
    while time.monotonic() - revoked_at < 6:
        status, body = get(ping, raw)
        answers.append(status)
        if status == 401:
            break
        time.sleep(0.05)
    took = time.monotonic() - revoked_at

    assert answers[-1] == 401, f"still accepted 6 s after the revocation:\n{gateway.output()}"
    assert body["message"] == "This token has been revoked."
    assert took < REFUSED_WITHIN, f"refused only {took:.2f} s after the revocation"
    print(f"\nrevoked token refused by the gateway process {took:.3f} s after the revocation")


def test_a_deactivated_units_tokens_are_refused_by_a_running_gateway_within_a_second(
    company, gateway
):
    _, raw = make_token(company.a, ["predict"])
    ping = f"{gateway.url}/serve/{company.a.slug}/no-such-endpoint/ping"
    assert get(ping, raw)[0] == 404

    services.tenant_update(actor=TEST_ACTOR, tenant=company.a, active=False)
    deactivated_at = time.monotonic()
    status = 404
    while status != 401 and time.monotonic() - deactivated_at < 6:
        time.sleep(0.05)
        status, body = get(ping, raw)
    took = time.monotonic() - deactivated_at

    assert status == 401 and body["message"] == "The tenant of this token is deactivated."
    assert took < REFUSED_WITHIN, f"refused only {took:.2f} s after the deactivation"
