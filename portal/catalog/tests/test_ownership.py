"""The portal owns which unit a model belongs to; MLflow's ``portal.tenant`` tag is only a claim.

The first claim (a tag, a name prefix, a platform admin's assignment, a registration from the
portal) is recorded by the portal. A tag changed later in MLflow never moves the model: the unit
keeps it, platform admins see a conflict, and the event is audited.
"""

from __future__ import annotations

import pytest
from django.test import Client

from governance.models import AuditEvent
from portal.catalog.models import RegisteredModel
from portal.catalog.sync import tenant_sync_model, unassigned_scan
from portal.catalog.tests.builders import sync
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def catalog_of(tenant) -> set[str]:
    with tenant_scope(tenant):
        return set(
            RegisteredModel.objects.filter(gone_from_mlflow=False).values_list("name", flat=True)
        )


def conflicts_page(company) -> str:
    client = Client()
    client.force_login(company.adam)
    return client.get("/catalog/unassigned/").content.decode()


@pytest.mark.parametrize("deep", [True, False], ids=["deep", "shallow"])
def test_a_retagged_model_stays_with_its_first_unit(company, mlflow_server, deep):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    sync(company.a)
    mlflow_server.client.set_registered_model_tag("credit-scoring", "portal.tenant", company.b.slug)

    sync(company.b, deep=deep)
    sync(company.a, deep=deep)
    sync(company.b, deep=deep)

    assert catalog_of(company.a) == {"credit-scoring"}
    assert catalog_of(company.b) == set()
    with tenant_scope(company.a):
        assert RegisteredModel.objects.get(name="credit-scoring").versions.count() == 2
        events = AuditEvent.objects.filter(action="model.ownership_conflict")
        assert [(e.after["claimed_by_tag"], e.after["owner"]) for e in events] == [
            (company.b.slug, company.a.slug)
        ]
    page = conflicts_page(company)
    assert "credit-scoring" in page and "Ownership conflicts" in page
    assert company.b.slug in page and company.a.name in page


def test_a_retagged_model_stays_when_a_webhook_syncs_it_by_name(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug)
    sync(company.a)
    mlflow_server.client.set_registered_model_tag("credit-scoring", "portal.tenant", company.b.slug)
    tenant_sync_model(name="credit-scoring", trigger="webhook")
    assert catalog_of(company.a) == {"credit-scoring"}
    assert catalog_of(company.b) == set()


def test_a_model_claimed_by_another_unit_is_not_planted_by_tagging_it(company, mlflow_server):
    mlflow_server.register("bravo-churn", tenant=company.b.slug)
    sync(company.b)
    mlflow_server.client.set_registered_model_tag("bravo-churn", "portal.tenant", company.a.slug)
    sync(company.a, deep=True)
    sync(company.a, deep=False)
    tenant_sync_model(name="bravo-churn", trigger="webhook")
    assert catalog_of(company.a) == set()
    assert catalog_of(company.b) == {"bravo-churn"}
    assert "bravo-churn" in conflicts_page(company)


def test_a_conflict_resolved_in_mlflow_leaves_the_admin_list_and_is_audited_once(
    company, mlflow_server
):
    mlflow_server.register("credit-scoring", tenant=company.a.slug)
    sync(company.a)
    client = mlflow_server.client
    client.set_registered_model_tag("credit-scoring", "portal.tenant", company.b.slug)
    sync(company.a, deep=True)
    sync(company.a, deep=True)
    client.set_registered_model_tag("credit-scoring", "portal.tenant", company.a.slug)
    sync(company.a, deep=True)
    with tenant_scope(company.a):
        actions = list(
            AuditEvent.objects.filter(action__startswith="model.ownership").values_list(
                "action", flat=True
            )
        )
    assert actions == ["model.ownership_conflict", "model.ownership_conflict_resolved"]
    assert "credit-scoring" not in conflicts_page(company)


def test_a_model_claimed_by_a_unit_is_never_listed_as_unassigned(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug)
    sync(company.a)
    mlflow_server.client.set_registered_model_tag("credit-scoring", "portal.tenant", "nobody")
    assert unassigned_scan() == 0


def test_the_claims_list_is_for_platform_admins_only(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug)
    sync(company.a)
    mlflow_server.client.set_registered_model_tag("credit-scoring", "portal.tenant", company.b.slug)
    sync(company.a, deep=True)
    listed = client_for(company.adam).get("/api/v1/catalog/conflicts/").json()["results"]
    assert [(c["name"], c["owner"], c["claimed_by_tag"]) for c in listed] == [
        ("credit-scoring", company.a.slug, company.b.slug)
    ]
    assert client_for(company.alice).get("/api/v1/catalog/conflicts/").status_code == 403
