"""The authorization matrix: every route and method, as every role, on own, other and missing things.

``matrix.csv`` holds the expected status of each cell; a route of the URLconf or the OpenAPI
schema that is missing from it, or a row for a route that no longer exists, fails the run.
Besides the table, every cell must keep these promises whatever the table says:

- nobody gets a 500 (a 503 says MLflow is not there: the matrix runs without it);
- another unit's thing is a 404 byte for byte the same as a missing one;
- an anonymous caller or a service token is never let into an API route or a page of a unit;
- nothing that is missing is ever answered with a success;
- a refused write leaves the database exactly as it was.

Each call runs in a savepoint that is rolled back, so the cells do not see each other's writes.
``AUTHZ_MATRIX_RECORD=1`` rewrites the table from what the portal answers: review the diff.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from portal.core.api.errors import NOT_FOUND_BODY
from tenants.models import Membership
from tenants.scoping import dangerously_across_tenants, tenant_scope
from tests.authz.calls import (
    OBJECTS,
    ROLES,
    ROUTES,
    call,
    is_api,
    make_callers,
    objects_of,
)

MATRIX = Path(__file__).with_name("matrix.csv")
RECORD = os.environ.get("AUTHZ_MATRIX_RECORD") == "1"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Answers that are not the portal's business to guard: Django's admin has its own staff check.
ADMIN_PREFIX = "/admin/"
# Routes open to everyone by design.
PUBLIC = {"/healthz", "/login/", "/api/schema/", "/api/docs/", "/api/v1/webhooks/mlflow/"}
# Columns (by table) a read may change: when a token was last used.
VOLATILE_COLUMNS = {"tenants_servicetoken": {"last_used_at"}}
IGNORED_TABLES = {"django_session"}
# A missing thing that a write creates: a manual price source is made by its first change.
CREATED_WHEN_MISSING = {("POST", "/api/v1/price-sources/{name}/items/")}
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


# --- The table --------------------------------------------------------------------------------


def read_matrix() -> dict[tuple[str, str, str], dict[str, str]]:
    """(method, route, object) -> {role: expected status, "note": ...}."""
    if not MATRIX.exists():
        return {}
    with MATRIX.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        # A note written by hand with commas and no quotes spills into extra fields.
        extra = row.pop(None, None)  # type: ignore[call-overload]
        if extra:
            row["note"] = ",".join([row["note"], *extra])
    return {(row["method"], row["route"], row["object"]): row for row in rows}


def write_matrix(rows: dict[tuple[str, str, str], dict[str, str]]) -> None:
    order = {route: index for index, route in enumerate(ROUTES)}
    keys = sorted(
        rows,
        key=lambda k: (order.get(k[1], len(order)), METHODS.index(k[0]), OBJECTS.index(k[2])),
    )
    written = MATRIX.with_suffix(".csv.new")
    with written.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["method", "route", "object", *ROLES, "note"])
        writer.writeheader()
        for key in keys:
            writer.writerow(rows[key])
    written.replace(MATRIX)  # a failed write leaves the table as it was


def cells() -> list[tuple[str, str]]:
    """Every (method, route) the matrix calls."""
    return [(method, route) for route, methods in ROUTES.items() for method in methods]


# --- What exists ------------------------------------------------------------------------------


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }


def urlconf_routes() -> set[str]:
    """Every URL pattern, written like the schema writes paths (``{name}`` for parameters)."""
    found: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if text == "admin/":
                    found.add(ADMIN_PREFIX)
                    continue
                walk(pattern.url_patterns, text)
            elif isinstance(pattern, URLPattern):
                found.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text))

    walk(get_resolver().url_patterns, "")
    # The schema calls a ``pk`` parameter ``id``.
    return {
        route.replace("{pk}", "{id}") if route.startswith("/api/") else route for route in found
    }


def test_every_route_and_method_is_in_the_table():
    table = read_matrix()
    called = set(cells())
    missing_calls = schema_operations() - called
    assert not missing_calls, f"add these API operations to ROUTES in calls.py: {missing_calls}"
    unlisted = urlconf_routes() - set(ROUTES)
    assert not unlisted, f"add these URLs to ROUTES in calls.py: {sorted(unlisted)}"
    gone = set(ROUTES) - urlconf_routes()
    assert not gone, f"ROUTES names URLs that no longer exist: {sorted(gone)}"
    expected_rows = {(method, route, obj) for method, route in called for obj in objects_of(route)}
    assert expected_rows - set(table) == set(), (
        "rows missing from matrix.csv (run with AUTHZ_MATRIX_RECORD=1 and review the diff): "
        f"{sorted(expected_rows - set(table))}"
    )
    assert set(table) - expected_rows == set(), (
        f"matrix.csv has rows for calls that do not exist: {sorted(set(table) - expected_rows)}"
    )


# --- Walking it -------------------------------------------------------------------------------


def fingerprint_query() -> str:
    """One query whose answer changes when any row of any table changes."""
    parts = []
    with connection.cursor() as cursor:
        tables = sorted(set(connection.introspection.table_names(cursor)) - IGNORED_TABLES)
        for table in tables:
            volatile = VOLATILE_COLUMNS.get(table)
            if volatile:
                columns = [
                    c.name
                    for c in connection.introspection.get_table_description(cursor, table)
                    if c.name not in volatile
                ]
                row = "row(" + ", ".join(f"t.{connection.ops.quote_name(c)}" for c in columns) + ")"
            else:
                row = "t"
            quoted = connection.ops.quote_name(table)
            parts.append(
                f"(SELECT md5(coalesce(string_agg({row}::text, '|' ORDER BY {row}::text), '')) "  # noqa: S608 (introspected, quoted names)
                f"FROM {quoted} t)"
            )
    return "SELECT md5(concat(" + ", ".join(parts) + "))"


def fingerprint(query: str) -> str:
    reason = "authorization matrix: did a refused write change anything"
    with dangerously_across_tenants(reason), connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_fingerprint_sees_a_change_to_a_units_row(world):
    """Refused writes are checked with the fingerprint; it must see the units' rows."""
    query = fingerprint_query()
    before = fingerprint(query)
    with transaction.atomic():
        with tenant_scope(world.a.tenant):
            Membership.objects.filter(pk=world.a.membership.pk).update(role="viewer")
        assert fingerprint(query) != before
        transaction.set_rollback(True)
    assert fingerprint(query) == before


@pytest.fixture(scope="module")
def callers(world, django_db_blocker):
    with django_db_blocker.unblock():
        return make_callers(world)


@pytest.fixture(scope="module")
def recorded():
    rows: dict = {}
    yield rows
    if RECORD and rows:
        table = read_matrix()
        for key, statuses in rows.items():
            note = table.get(key, {}).get("note", "")
            table[key] = {"method": key[0], "route": key[1], "object": key[2], **statuses}
            table[key]["note"] = note
        write_matrix(table)


def _is_refusal(route: str, role: str, status: int) -> bool:
    if status >= 400:
        return True
    # A page answers a caller without a session with a redirect to the sign-in page.
    return not is_api(route) and (role == "anonymous" or role.startswith("token:"))


def _comparable(route: str, content: bytes) -> bytes:
    return content if is_api(route) else _CSRF.sub(b"", content)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(("method", "route"), cells(), ids=[f"{m} {r}" for m, r in cells()])
def test_the_matrix(method, route, world, callers, recorded, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # no DNS lookups of the example hosts
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens on the discard port
    table = read_matrix()
    query = fingerprint_query()
    before = fingerprint(query)
    problems: list[str] = []
    for obj in objects_of(route):
        expected = table.get((method, route, obj), {})
        observed: dict[str, str] = {}
        bodies: dict[str, dict[str, bytes]] = {}
        for role in ROLES:
            with transaction.atomic():
                answer = call(callers[role], world, route, method, obj)
                status = answer.status_code
                changed = fingerprint(query) != before
                transaction.set_rollback(True)
            observed[role] = str(status)
            bodies.setdefault(obj, {})[role] = _comparable(route, answer.content)
            where = f"{method} {route} [{obj}] as {role}"
            if not RECORD and expected.get(role) != str(status):
                problems.append(f"{where}: {status}, the table says {expected.get(role)}")
            if status == 500:
                problems.append(f"{where}: a server error: {answer.content[:300]!r}")
            if changed and _is_refusal(route, role, status):
                problems.append(f"{where}: refused with {status} but the database changed")
            if status < 300 and route not in PUBLIC and not route.startswith(ADMIN_PREFIX):
                if role == "anonymous":
                    problems.append(f"{where}: an anonymous caller got {status}")
                if role.startswith("token:") and not is_api(route) and "/serve/" not in route:
                    problems.append(f"{where}: a service token got a page ({status})")
                if obj == "missing" and (method, route) not in CREATED_WHEN_MISSING:
                    problems.append(f"{where}: a missing thing was answered {status}")
            tenant_404 = status == 404 and is_api(route) and "other" in objects_of(route)
            if tenant_404 and json.loads(answer.content) != NOT_FOUND_BODY:
                problems.append(f"{where}: a 404 with another body: {answer.content!r}")
        if RECORD:
            recorded[(method, route, obj)] = observed
        if obj == "other":
            problems.extend(_other_is_like_missing(world, callers, route, method, observed))
    assert not problems, "\n".join(problems)


def _other_is_like_missing(world, callers, route, method, observed) -> list[str]:
    """Where another unit's thing is a 404, the same call on a missing thing is the same bytes."""
    problems = []
    for role, status in observed.items():
        if status != "404":
            continue
        with transaction.atomic():
            other = call(callers[role], world, route, method, "other")
            missing = call(callers[role], world, route, method, "twin")
            transaction.set_rollback(True)
        if missing.status_code != 404 or _comparable(route, other.content) != _comparable(
            route, missing.content
        ):
            problems.append(
                f"{method} {route} as {role}: another unit's thing is not the same 404 as a "
                f"missing one ({other.content[:200]!r} vs {missing.status_code} "
                f"{missing.content[:200]!r})"
            )
    return problems
