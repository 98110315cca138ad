"""Settings come from the environment; a bad value stops start-up with a sentence naming it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.core.env import Env

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PORTAL_VAR_DIR"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**keep, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        (
            "DATABASE_URL",
            "mysql://db/portal",
            "DATABASE_URL must be a sqlite:/// or postgres:// URL",
        ),
        ("REDIS_URL", "http://cache:6379", "REDIS_URL must be a URL starting with redis://"),
        ("CELERY_BROKER_URL", "amqp://", "CELERY_BROKER_URL must be a URL starting with"),
        (
            "MLFLOW_TRACKING_URI",
            "ftp://mlflow",
            "MLFLOW_TRACKING_URI must be a URL starting with http://",
        ),
        ("SESSION_COOKIE_AGE", "an hour", "SESSION_COOKIE_AGE must be a whole number"),
        ("AUDIT_CHAIN_KEY", "short", "AUDIT_CHAIN_KEY must be at least 32 characters"),
        ("AUDIT_ANCHOR_URI", "gs://bucket/anchors", "AUDIT_ANCHOR_URI must be a folder"),
        ("SERVING_SANDBOX", "firejail", "SERVING_SANDBOX must be one of bwrap, off"),
        (
            "CAPTURE_RETENTION_DAYS_BY_TIER",
            "high=190,unknown=30",
            "CAPTURE_RETENTION_DAYS_BY_TIER must be key=number pairs",
        ),
        (
            "CAPTURE_RETENTION_DAYS_BY_TIER",
            "minimal=a month",
            "minimal must be a whole number",
        ),
        (
            "CAPTURE_RETENTION_DAYS_BY_TIER",
            "high=90",
            "high must be at least 183 days (six months",
        ),
    ],
)
def test_a_bad_value_stops_start_up_with_a_sentence_naming_the_variable(variable, value, sentence):
    result = manage("check", **{"DEBUG": "true", variable: value})
    assert result.returncode != 0
    assert sentence in result.stderr
    assert "Traceback" not in result.stderr


def test_smtp_authentication_and_tls_are_read_and_the_two_tls_modes_exclude_each_other():
    both = manage("check", DEBUG="true", EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
    assert both.returncode != 0
    assert "EMAIL_USE_TLS (STARTTLS) and EMAIL_USE_SSL (implicit TLS) exclude each other" in (
        both.stderr
    )
    assert "Traceback" not in both.stderr

    read = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT)",
        DEBUG="true",
        EMAIL_HOST_USER="portal",
        EMAIL_HOST_PASSWORD="s3cret",
        EMAIL_USE_TLS="true",
        EMAIL_TIMEOUT_SECONDS="7",
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.split()[-4:] == ["portal", "s3cret", "True", "7"]


def test_without_debug_a_secret_key_is_required():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_check_deploy_is_clean_with_production_like_variables(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.db'}",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_portals_own_files_are_private_to_its_user(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    database = var / "portal.db"
    database.write_text("")
    database.chmod(0o644)
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; (settings.VAR_DIR / 'new-file').write_text('x')",
        DEBUG="true",
        PORTAL_VAR_DIR=str(var),
    )
    assert result.returncode == 0, result.stderr
    assert var.stat().st_mode & 0o777 == 0o700
    assert database.stat().st_mode & 0o777 == 0o600
    assert (var / "new-file").stat().st_mode & 0o777 == 0o600


def test_env_helpers_read_typed_values():
    env = Env({"FLAG": "yes", "COUNT": "7", "HOSTS": "a, b,,c", "EMPTY": ""})
    assert env.bool("FLAG", False) is True
    assert env.bool("MISSING", True) is True
    assert env.int("COUNT", 1) == 7
    assert env.list("HOSTS", []) == ["a", "b", "c"]
    assert env.str("EMPTY", "fallback") == "fallback"
    with pytest.raises(ImproperlyConfigured, match="COUNT must be at least 10"):
        env.int("COUNT", 1, minimum=10)


def test_capture_retention_days_stays_the_retention_of_the_tiers_the_map_does_not_name():
    read = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.CAPTURE_RETENTION_DAYS_BY_TIER)",
        DEBUG="true",
        CAPTURE_RETENTION_DAYS="45",
        CAPTURE_RETENTION_DAYS_BY_TIER="high=365",
    )
    assert read.returncode == 0, read.stderr
    kept = read.stdout.strip().splitlines()[-1]
    assert kept == "{'prohibited': 190, 'high': 365, 'limited': 45, 'minimal': 45}"


def test_capture_retention_by_tier_names_only_the_tiers_it_changes():
    env = Env({"KEPT": "limited=60, minimal=14", "NONE": ""})
    defaults = {"high": 190, "limited": 30, "minimal": 30}
    tiers = ("prohibited", "high", "limited", "minimal")
    assert env.int_map("KEPT", defaults, keys=tiers) == {"high": 190, "limited": 60, "minimal": 14}
    assert env.int_map("NONE", defaults, keys=tiers) == defaults
    with pytest.raises(ImproperlyConfigured, match="KEPT: minimal must be at least 30"):
        env.int_map("KEPT", defaults, keys=tiers, minimum=30)


PRODUCTION_PROBE = """
import json
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher
from django.test import Client

client = Client(HTTP_HOST="portal.example.com")
page = client.get("/healthz", secure=True)
plain = client.get("/login/")
hasher = get_hasher()
print(json.dumps({
    "status": page.status_code,
    "headers": dict(page.headers),
    "plain_http": [plain.status_code, plain.headers.get("Location", "")],
    "session_cookie": [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
    "hasher": hasher.algorithm,
    "iterations": getattr(hasher, "iterations", 0),
    "default_iterations": PBKDF2PasswordHasher.iterations,
    "validators": [v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS],
    "throttles": {"login": settings.LOGIN_THROTTLE,
                  **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    """What the portal answers and is configured with under production-like variables."""
    tmp_path = tmp_path_factory.mktemp("production")
    result = manage(
        "shell",
        "-c",
        PRODUCTION_PROBE,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.db'}",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    return probe


def test_production_responses_carry_the_security_headers_and_secure_cookies(probe):
    headers = probe["headers"]
    assert probe["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert probe["plain_http"] == [301, "https://portal.example.com/login/"]
    assert probe["session_cookie"] == [True, True] and probe["csrf_cookie_secure"] is True


def test_production_passwords_are_hashed_strongly_and_checked_and_sign_in_is_throttled(probe):
    assert probe["hasher"] in {"argon2", "pbkdf2_sha256"}
    if probe["hasher"] == "pbkdf2_sha256":
        assert probe["iterations"] >= probe["default_iterations"]
    assert set(probe["validators"]) >= {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }
    # The throttles themselves are tested in tests/test_pages.py (sign-in) and
    # tenants/tests/test_service_tokens.py (token creation); here, that production has them.
    assert probe["throttles"]["login"] and probe["throttles"]["token_create"]


def test_without_an_audit_key_one_is_generated_once_and_kept_private(tmp_path):
    read = "from django.conf import settings; print(settings.AUDIT_CHAIN_KEY)"
    first = manage("shell", "-c", read, DEBUG="true", PORTAL_VAR_DIR=str(tmp_path))
    second = manage("shell", "-c", read, DEBUG="true", PORTAL_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    key = first.stdout.split()[-1]
    assert len(key) >= 32 and second.stdout.split()[-1] == key
    kept = tmp_path / "audit-chain-key"
    assert kept.read_text().strip() == key
    assert kept.stat().st_mode & 0o777 == 0o600
