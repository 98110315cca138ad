"""Behind the portal's own proxy (``TRUSTED_PROXY``), the client's address, host and scheme come
from the proxy's X-Forwarded-* headers; without it, those headers are the client's words and are
ignored, so nobody dodges a rate limit by writing a new X-Forwarded-For on each try."""

from __future__ import annotations

import json
import secrets

import pytest
from django.test import Client

from tests.builders import PASSWORD
from tests.test_settings import manage

pytestmark = pytest.mark.django_db


def sign_in_attempts(*, forwarded_for: list[str], count: int) -> list[int]:
    """Wrong passwords under fresh usernames (only the per-address limit counts them)."""
    answers = []
    for number in range(count):
        address = forwarded_for[number % len(forwarded_for)]
        answer = Client(HTTP_X_FORWARDED_FOR=address, REMOTE_ADDR="10.9.0.2").post(
            "/login/", {"username": f"nobody{number}", "password": "wrong-password"}
        )
        answers.append(answer.status_code)
    return answers


def test_without_a_trusted_proxy_a_new_x_forwarded_for_does_not_reset_the_sign_in_limit(settings):
    settings.TRUSTED_PROXY = False
    settings.LOGIN_THROTTLE = "2/min"  # per address: three times that
    answers = sign_in_attempts(forwarded_for=[f"203.0.113.{n}" for n in range(1, 9)], count=7)
    assert answers == [200] * 6 + [429]


def test_behind_a_trusted_proxy_each_client_address_has_its_own_sign_in_limit(settings, company):
    settings.TRUSTED_PROXY = True
    settings.LOGIN_THROTTLE = "2/min"
    # The proxy (10.9.0.2) appends the address it saw to what the client sent.
    assert sign_in_attempts(forwarded_for=["198.51.100.1, 203.0.113.7"], count=7)[-1] == 429
    other = Client(HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.8", REMOTE_ADDR="10.9.0.2")
    answer = other.post("/login/", {"username": "amir", "password": PASSWORD})
    assert answer.status_code == 302  # another client behind the same proxy signs in


PROXY_PROBE = """
import json
from django.test import Client

client = Client(HTTP_HOST="web:8000")
page = client.get("/api/v1/tenants/", HTTP_X_FORWARDED_PROTO="https",
                  HTTP_X_FORWARDED_HOST="portal.example.com")
print(json.dumps([page.status_code, page.headers.get("Location", "")]))
"""


def proxy_probe(tmp_path, **variables: str) -> list:
    result = manage(
        "shell",
        "-c",
        PROXY_PROBE,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'proxy.db'}",
        PORTAL_VAR_DIR=str(tmp_path),
        **variables,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_a_trusted_proxy_the_forwarded_host_and_https_are_believed(tmp_path):
    # Neither refused for its host nor redirected to https: the API asks for credentials.
    assert proxy_probe(tmp_path, TRUSTED_PROXY="true") == [401, ""]


def test_without_a_trusted_proxy_forwarded_host_and_scheme_are_ignored(tmp_path):
    # web:8000 is not an allowed host, and X-Forwarded-Host does not make it one.
    assert proxy_probe(tmp_path)[0] == 400
