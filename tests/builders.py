"""Builders of the shared personas, their memberships and tokens, and the clients tests call with.

The root ``conftest.py`` turns ``make_company`` into the ``company`` fixture; tests import the rest
from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from portal.core.audit import Actor
from tenants import services
from tenants.models import PlatformRole, ServiceToken, Tenant, TenantRole, User
from tenants.scoping import tenant_scope

TEST_ACTOR = Actor.system("test fixture")
PASSWORD = "correct-horse-battery"


def make_user(username: str, *, platform_role: str = "") -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        email=f"{username}@example.com",
        first_name=username.capitalize(),
    )
    if platform_role:
        services.user_set_platform_role(actor=TEST_ACTOR, user=user, platform_role=platform_role)
    return user


def add_member(tenant: Tenant, user: User, role: str) -> None:
    with tenant_scope(tenant):
        services.membership_add(actor=TEST_ACTOR, tenant=tenant, user=user, role=role)


def make_token(
    tenant: Tenant, scopes: list[str], *, name: str = "ci", days: int = 30
) -> tuple[ServiceToken, str]:
    with tenant_scope(tenant):
        return services.token_create(
            actor=TEST_ACTOR,
            tenant=tenant,
            name=name,
            scopes=scopes,
            expires_at=timezone.now() + timedelta(days=days),
            created_by=None,
        )


@dataclass
class Company:
    a: Tenant
    b: Tenant
    alice: User  # owner of A
    amir: User  # engineer of A
    ava: User  # viewer of A
    bob: User  # owner of B
    ben: User  # engineer of B
    grace: User  # governance lead
    gus: User  # second governance lead
    fiona: User  # finance
    adam: User  # platform admin


def make_company() -> Company:
    """The two units and their people (the ``company`` fixture, for fixtures of wider scope)."""
    a = services.tenant_create(
        actor=TEST_ACTOR, slug="acme-retail", name="Acme Retail", cost_center="CC-1"
    )
    b = services.tenant_create(
        actor=TEST_ACTOR, slug="bravo-marketing", name="Bravo Marketing", cost_center="CC-2"
    )
    people = Company(
        a=a,
        b=b,
        alice=make_user("alice"),
        amir=make_user("amir"),
        ava=make_user("ava"),
        bob=make_user("bob"),
        ben=make_user("ben"),
        grace=make_user("grace", platform_role=PlatformRole.GOVERNANCE_LEAD),
        gus=make_user("gus", platform_role=PlatformRole.GOVERNANCE_LEAD),
        fiona=make_user("fiona", platform_role=PlatformRole.FINANCE),
        adam=make_user("adam", platform_role=PlatformRole.PLATFORM_ADMIN),
    )
    add_member(a, people.alice, TenantRole.OWNER)
    add_member(a, people.amir, TenantRole.ENGINEER)
    add_member(a, people.ava, TenantRole.VIEWER)
    add_member(b, people.bob, TenantRole.OWNER)
    add_member(b, people.ben, TenantRole.ENGINEER)
    return people


def client_for(user: User | None = None, *, token: str | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def signed_in(user) -> Client:
    """A browser-less client with ``user``'s session, for the pages."""
    client = Client()
    client.force_login(user)
    return client


def sign_in(page, live_server, username: str) -> None:
    """Sign in through the login form, as a person does, and wait for the home page."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=re.compile(r"^Welcome, ")).wait_for()


def sql_rows(sql: str, params: list | None = None) -> list[tuple]:
    """The rows of a raw query on the test's connection, past the ORM and its tenant scoping."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()
