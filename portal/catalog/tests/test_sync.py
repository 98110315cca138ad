"""The catalog follows a real MLflow registry: per tenant, incremental, audited, fail-safe."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import AuditEvent
from portal.catalog.models import ModelVersion, RegisteredModel, SyncRun
from portal.catalog.sync import unassigned_scan
from portal.catalog.tests.builders import sync
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def catalog_of(tenant) -> dict[str, list[int]]:
    with tenant_scope(tenant):
        return {
            m.name: sorted(m.versions.values_list("version", flat=True))
            for m in RegisteredModel.objects.filter(gone_from_mlflow=False)
        }


def test_a_model_tagged_for_tenant_a_appears_in_as_catalog_and_never_in_bs(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    mlflow_server.register("churn", tenant=company.b.slug)
    run = sync(company.a)
    sync(company.b)
    assert run.status == "succeeded" and run.versions_created == 2
    assert catalog_of(company.a) == {"credit-scoring": [1, 2]}
    assert catalog_of(company.b) == {"churn": [1]}
    bob = client_for(company.bob)
    foreign = bob.get(f"/api/v1/tenants/{company.b.slug}/models/credit-scoring/")
    missing = bob.get(f"/api/v1/tenants/{company.b.slug}/models/no-such-model/")
    assert foreign.status_code == 404 and foreign.content == missing.content
    assert bob.get(f"/api/v1/tenants/{company.a.slug}/models/").status_code == 404


def test_a_version_carries_run_metrics_params_lineage_signature_size_and_digest(
    company, mlflow_server
):
    mlflow_server.register("credit-scoring", tenant=company.a.slug)
    sync(company.a)
    version = (
        client_for(company.amir)
        .get(f"/api/v1/tenants/{company.a.slug}/models/credit-scoring/versions/1/")
        .json()
    )
    assert version["run_id"] == mlflow_server.run_id
    assert set(version["metrics"]) == {
        "accuracy",
        "val_accuracy",
        "fairness_demographic_parity_difference",
        "fairness_equalized_odds_difference",
    }
    assert version["params"]["max_iter"] == "500"
    assert version["lineage"] == [
        {
            "name": "credit-train",
            "digest": version["lineage"][0]["digest"],
            "source": "s3://credit-data/train.parquet",
            "source_type": "s3",
            "context": "training",
        }
    ]
    assert [column["name"] for column in version["signature"]["inputs"]] == [
        "income",
        "debt_ratio",
        "age",
    ]
    assert version["artifact_size_bytes"] > 1000
    assert len(version["artifact_digest"]) == 64
    assert version["details_error"] == ""


def test_a_new_version_and_an_alias_move_appear_after_a_sync(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    client = mlflow_server.client
    client.set_registered_model_alias("credit-scoring", "champion", "1")
    sync(company.a)
    client.create_model_version(
        "credit-scoring",
        source=f"models:/{mlflow_server.model_id}",
        run_id=mlflow_server.run_id,
        model_id=mlflow_server.model_id,
    )
    client.set_registered_model_alias("credit-scoring", "champion", "3")
    run = sync(company.a)
    assert run.versions_created == 1
    detail = (
        client_for(company.amir)
        .get(f"/api/v1/tenants/{company.a.slug}/models/credit-scoring/")
        .json()
    )
    assert detail["aliases"] == {"champion": 3}
    assert [(v["version"], v["aliases"]) for v in detail["versions"]] == [
        (3, ["champion"]),
        (2, []),
        (1, []),
    ]
    with tenant_scope(company.a):
        actions = list(
            AuditEvent.objects.filter(actor_label="mlflow sync").values_list("action", flat=True)
        )
    assert actions.count("version.registered") == 3
    assert "model.aliases_changed" in actions


def test_an_alias_move_alone_is_found_by_the_incremental_pass(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    sync(company.a)
    mlflow_server.client.set_registered_model_alias("credit-scoring", "challenger", "2")
    sync(company.a, deep=False)
    with tenant_scope(company.a):
        assert ModelVersion.objects.get(version=2).aliases == ["challenger"]


def test_an_unchanged_registry_resyncs_with_zero_writes(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    mlflow_server.register("limits", tenant=company.a.slug)
    sync(company.a)
    with CaptureQueriesContext(connection) as queries:
        run = sync(company.a)
    written = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "catalog_syncrun" not in q["sql"]
    ]
    assert written == []
    assert (run.models_seen, run.models_changed, run.writes) == (2, 0, 0)


def test_a_model_deleted_in_mlflow_is_flagged_not_dropped(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug)
    mlflow_server.register("limits", tenant=company.a.slug)
    sync(company.a)
    mlflow_server.client.delete_registered_model("limits")
    run = sync(company.a)
    assert run.models_gone == 1
    with tenant_scope(company.a):
        gone = RegisteredModel.objects.get(name="limits")
        assert gone.gone_from_mlflow and gone.gone_at is not None
        assert (
            AuditEvent.objects.filter(
                action="model.gone_from_mlflow", object_id=str(gone.pk)
            ).count()
            == 1
        )
    listed = (
        client_for(company.amir)
        .get(f"/api/v1/tenants/{company.a.slug}/models/", {"status": "gone"})
        .json()
    )
    assert [m["name"] for m in listed["results"]] == ["limits"]


def test_a_second_sync_stands_down_while_one_is_running(company, mlflow_server):
    with tenant_scope(company.a):
        SyncRun.objects.create(tenant=company.a, trigger="schedule")
    assert sync(company.a) is None


def test_a_name_prefix_claims_untagged_models_but_never_another_tenants_tagged_ones(
    company, mlflow_server
):
    company.a.mlflow_name_prefix = "acme-"
    company.a.save()
    mlflow_server.register("acme-pricing", tenant=None)
    mlflow_server.register("acme-but-bravos", tenant=company.b.slug)
    sync(company.a)
    assert catalog_of(company.a) == {"acme-pricing": [1]}


def test_models_no_tenant_claims_are_listed_for_platform_admins_who_assign_them(
    company, mlflow_server, eager_celery, django_capture_on_commit_callbacks
):
    mlflow_server.register("orphan", tenant=None)
    assert unassigned_scan() == 1
    admin = client_for(company.adam)
    assert [m["name"] for m in admin.get("/api/v1/catalog/unassigned/").json()["results"]] == [
        "orphan"
    ]
    assert client_for(company.alice).get("/api/v1/catalog/unassigned/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assigned = admin.post(
            "/api/v1/catalog/unassigned/orphan/assign/", {"tenant": company.a.slug}, format="json"
        )
    assert assigned.status_code == 202
    assert (
        mlflow_server.client.get_registered_model("orphan").tags["portal.tenant"] == company.a.slug
    )
    assert catalog_of(company.a) == {"orphan": [1]}
    assert admin.get("/api/v1/catalog/unassigned/").json()["count"] == 0
