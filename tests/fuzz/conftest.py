"""What the fuzzer runs against: the Django app in-process and one unit with one of everything.

The world is built once per module inside a transaction that is rolled back at the end. Every
request the fuzzer sends runs in a savepoint of its own that is rolled back too, so one example
never sees another's writes (a revoked token, a deleted member) and nothing is enqueued: work
queued with ``delay_on_commit`` waits for a commit that never comes.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client, override_settings
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from schemathesis.core.failures import AcceptedNegativeData, ServerError

from chargeback.tests.builders import closed_month
from portal.catalog.models import UnassignedModel
from tenants.models import TokenScope
from tenants.scoping import dangerously_across_tenants
from tests.authz.world import make_unit
from tests.builders import Company, make_company, make_token

TENANT = "acme-retail"
# Nothing listens here: MLflow calls fail fast with a 503 instead of reaching a real registry.
CLOSED_LOOPBACK_PORT_URL = "http://127.0.0.1:9"
API_DOCUMENT = "urn:portal:openapi"


@dataclass
class World:
    """The unit the fuzzer works in, how each role signs its requests, and the ids worth guessing."""

    company: Company
    credentials: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    dictionaries: dict[str, list[Any]] = field(default_factory=dict)


def _build_world() -> World:
    company = make_company()
    with override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=True):  # the hosts are never resolved
        with dangerously_across_tenants("fuzz tests: a closed month of both units"):
            closed_month(company, "2026-10")
        unit = make_unit(
            company, company.a, prefix="acme", owner=company.alice, engineer=company.amir
        )
    token, secret = make_token(company.a, list(TokenScope.values), name="fuzz-pipeline")
    unassigned = UnassignedModel.objects.create(name="orphan-model", latest_version=1)

    world = World(company=company)
    world.dictionaries = {
        "tenants": [TENANT],
        "names": [unit.model, unit.live.model_version.model.name, unit.live.name, unassigned.name],
        "versions": [unit.version.version],
        "deployments": [unit.deployment.pk, unit.live.pk],
        "approvals": [unit.approval.pk],
        "statements": [unit.statement.pk],
        "lines": [unit.line.pk],
        "disputes": [unit.dispute.pk],
        "incidents": [unit.incident.pk],
        "monitors": [unit.monitor.pk],
        "ids": [unit.membership.pk, token.pk, unit.webhook.pk],
        "deliveries": [unit.delivery.pk],
        "jobs": [unit.job.pk],
    }
    world.credentials = {
        "anonymous": {},
        "viewer": _session(company.ava),
        "engineer": _session(company.amir),
        "owner": _session(company.alice),
        "token": {"headers": {"Authorization": f"Bearer {secret}"}},
        "governance": _session(company.grace),
        "finance": _session(company.fiona),
        "admin": _session(company.adam),
    }
    return world


def _session(user) -> dict[str, dict[str, str]]:
    """A signed-in browser session: the session cookie, and the CSRF cookie and header DRF wants."""
    browser = Client()
    browser.force_login(user)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = secrets.token_hex(16)  # a CSRF secret is 32 characters
    return {
        "cookies": {settings.SESSION_COOKIE_NAME: session, settings.CSRF_COOKIE_NAME: csrf},
        "headers": {"X-CSRFToken": csrf},
    }


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


class RolledBackApp:
    """The Django WSGI app with each request in a savepoint that is rolled back.

    Django closes database connections it finds in a transaction when a request starts or ends;
    like Django's own test client, this keeps the test's connection (and transaction) open.
    """

    def __init__(self) -> None:
        self.django = WSGIHandler()

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        with transaction.atomic():
            response = self.django(environ, start_response)
            try:
                body = b"".join(response)  # streamed bodies read the database too
            finally:
                if hasattr(response, "close"):
                    response.close()
            transaction.set_rollback(True)
        return [body]


@pytest.fixture(scope="module")
def in_process_app() -> Iterator[RolledBackApp]:
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield RolledBackApp()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


_real_getaddrinfo = socket.getaddrinfo


def _loopback_only_getaddrinfo(host, *args, **kwargs):
    """Names resolve only to themselves when they are addresses, or to loopback: no DNS traffic."""
    name = host.decode() if isinstance(host, bytes) else host
    if name in (None, "localhost") or _is_ip_literal(name):
        return _real_getaddrinfo(host, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, "name resolution is off during fuzzing")


def _is_ip_literal(name: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name.split("%")[0])
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="module")
def no_outside_traffic() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", _loopback_only_getaddrinfo)
        with override_settings(MLFLOW_TRACKING_URI=CLOSED_LOOPBACK_PORT_URL):
            yield


def fuzz_config(world: World) -> schemathesis.Config:
    """Checks, generation modes and the values worth guessing, for every operation."""
    return schemathesis.Config.from_dict(
        {
            "dictionaries": {
                name: {"values": values} for name, values in world.dictionaries.items()
            },
            "parameters": {
                "path.tenant": {"dictionary": "tenants", "probability": 0.9},
                "path.name": {"dictionary": "names", "probability": 0.7},
                "path.version": {"dictionary": "versions", "probability": 0.7},
                "path.deployment_id": {"dictionary": "deployments", "probability": 0.7},
                "path.approval_id": {"dictionary": "approvals", "probability": 0.7},
                "path.statement_id": {"dictionary": "statements", "probability": 0.7},
                "path.line_id": {"dictionary": "lines", "probability": 0.7},
                "path.dispute_id": {"dictionary": "disputes", "probability": 0.7},
                "path.incident_id": {"dictionary": "incidents", "probability": 0.7},
                "path.monitor_id": {"dictionary": "monitors", "probability": 0.7},
                "path.id": {"dictionary": "ids", "probability": 0.7},
                "path.delivery_id": {"dictionary": "deliveries", "probability": 0.7},
                "path.job_id": {"dictionary": "jobs", "probability": 0.7},
                "body.tenant": {"dictionary": "tenants", "probability": 0.5},
                "body.model": {"dictionary": "names", "probability": 0.5},
                "body.version": {"dictionary": "versions", "probability": 0.5},
                "body.endpoint": {"dictionary": "names", "probability": 0.5},
            },
            "generation": {"mode": "all", "with-security-parameters": False},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": False},
                "stateful": {"enabled": False},
            },
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "negative_data_rejection": {"enabled": True},
            },
        }
    )


def tolerated(failure, case, response) -> bool:
    return _mlflow_unavailable(failure, response) or _valid_once_drf_has_read_it(failure, case)


def _mlflow_unavailable(failure, response) -> bool:
    """MLflow is not running during the fuzz: its operations answer their documented 503."""
    if not isinstance(failure, ServerError) or response.status_code != 503:
        return False
    return json.loads(response.content).get("code") == "mlflow_unavailable"


def _valid_once_drf_has_read_it(failure, case) -> bool:
    """The body broke its schema only in ways DRF's text fields undo before they validate: a
    number given for text is read as text, and whitespace around text (Python's idea of it) is
    trimmed before the length is checked. What the view then gets is valid, so it may accept it."""
    if not isinstance(failure, AcceptedNegativeData) or not isinstance(case.body, dict):
        return False
    if "Invalid component: in body" not in failure.message:
        return False
    content = case.operation.definition.raw.get("requestBody", {}).get("content", {})
    schema = content.get(case.media_type, {}).get("schema")
    if schema is None:
        return False
    as_read = {key: _as_drf_reads_text(value) for key, value in case.body.items()}
    return _validator(case.operation.schema.raw_schema, schema).is_valid(as_read)


def _as_drf_reads_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft4Validator:
    """A validator of ``schema`` whose references point into the OpenAPI ``document``."""
    registry: Registry = Registry().with_resource(
        API_DOCUMENT, Resource(contents=document, specification=DRAFT4)
    )
    ref = schema.get("$ref", "")
    return Draft4Validator(
        {"$ref": API_DOCUMENT + ref} if ref.startswith("#") else schema, registry=registry
    )


def _keep_failure(context, failure, case, response) -> bool:
    return not tolerated(failure, case, response)


@pytest.fixture(scope="module")
def api_schema(fuzz_world, in_process_app, no_outside_traffic, django_db_blocker):
    """The portal's OpenAPI schema as drf-spectacular serves it at /api/schema/."""
    with django_db_blocker.unblock():
        schema = schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json", in_process_app, config=fuzz_config(fuzz_world)
        )
    schema.hook("filter_failure")(_keep_failure)
    return schema
