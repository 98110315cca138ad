"""Tenants: platform admins create and change them; everyone else reads what they may open."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from tenants.models import Tenant
from tenants.scoping import tenant_scope
from tests.builders import client_for


@pytest.mark.django_db
def test_a_platform_admin_creates_a_tenant_and_it_is_audited(company):
    created = client_for(company.adam).post(
        "/api/v1/tenants/",
        {"slug": "claims", "name": "Claims", "cost_center": "CC-9"},
        format="json",
    )
    assert created.status_code == 201
    tenant = Tenant.objects.get(slug="claims")
    with tenant_scope(tenant):
        event = AuditEvent.objects.get()
    assert (event.action, event.actor_label, event.sequence) == ("tenant.created", "adam", 1)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "grace", "fiona"])
def test_only_platform_admins_create_tenants(company, who):
    answer = client_for(getattr(company, who)).post(
        "/api/v1/tenants/", {"slug": "x", "name": "X"}, format="json"
    )
    assert answer.status_code == 403


@pytest.mark.django_db
def test_a_bad_slug_or_a_taken_slug_is_refused_with_a_sentence(company):
    adam = client_for(company.adam)
    bad = adam.post("/api/v1/tenants/", {"slug": "Not A Slug", "name": "X"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("slug:")
    taken = adam.post("/api/v1/tenants/", {"slug": company.a.slug, "name": "X"}, format="json")
    assert taken.status_code == 409


@pytest.mark.django_db
def test_an_owner_cannot_change_the_tenant_but_a_platform_admin_can(company):
    url = f"/api/v1/tenants/{company.a.slug}/"
    assert client_for(company.alice).patch(url, {"name": "Mine"}, format="json").status_code == 403
    changed = client_for(company.adam).patch(url, {"cost_center": "CC-77"}, format="json")
    assert changed.json()["cost_center"] == "CC-77"


@pytest.mark.django_db
def test_a_deactivated_tenant_disappears_for_its_members(company):
    client_for(company.adam).patch(
        f"/api/v1/tenants/{company.a.slug}/", {"active": False}, format="json"
    )
    assert client_for(company.alice).get(f"/api/v1/tenants/{company.a.slug}/").status_code == 404
    assert client_for(company.adam).get(f"/api/v1/tenants/{company.a.slug}/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, 1, "yes", "off", None])
def test_a_switch_is_true_or_false_and_nothing_that_looks_like_one(company, value):
    url = f"/api/v1/tenants/{company.a.slug}/"
    refused = client_for(company.adam).patch(url, {"active": value}, format="json")

    assert refused.status_code == 400 and "active" in refused.json()["detail"]
    assert client_for(company.adam).get(url).json()["active"] is True


@pytest.mark.django_db
def test_finance_and_governance_read_any_tenant_but_not_its_members_as_finance(company):
    url = f"/api/v1/tenants/{company.a.slug}/"
    assert client_for(company.fiona).get(url).status_code == 200
    assert client_for(company.grace).get(url).status_code == 200
    assert client_for(company.fiona).get(f"{url}members/").status_code == 403
