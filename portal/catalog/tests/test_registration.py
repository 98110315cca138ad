"""Registering a run's model from the portal: only the unit's own runs, under names that reveal
nothing about other units, queued for a worker and followed through a link."""

from __future__ import annotations

import uuid

import pytest

from governance.models import AuditEvent
from portal.catalog.models import RegisteredModel
from portal.catalog.sync import registry_sync
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def models_url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/models/"


@pytest.fixture
def a_owns_the_session_run(company, mlflow_server):
    """The session's run lives in experiment 'portal-tests': unit A's by its name prefix."""
    company.a.mlflow_name_prefix = "portal-"
    company.a.save()
    return mlflow_server


def run_of(mlflow_server, *, tenant_tag: str | None, name: str = "") -> str:
    """A run in a new experiment, tagged for ``tenant_tag`` (or for no unit)."""
    client = mlflow_server.client
    experiment = client.create_experiment(
        name or f"experiment-{uuid.uuid4().hex[:12]}",
        tags={"portal.tenant": tenant_tag} if tenant_tag else None,
    )
    return client.create_run(experiment).info.run_id


def mlflow_models(mlflow_server) -> set[str]:
    return {m.name for m in mlflow_server.client.search_registered_models()}


def jobs_of(tenant) -> int:
    from portal.catalog.models import CatalogJob

    with tenant_scope(tenant):
        return CatalogJob.objects.count()


def test_registering_another_units_run_is_the_same_400_as_a_run_that_does_not_exist(
    company, a_owns_the_session_run
):
    bravos_run = run_of(a_owns_the_session_run, tenant_tag=company.b.slug)
    amir = client_for(company.amir)
    foreign = amir.post(
        models_url(company.a), {"name": "portal-stolen", "run_id": bravos_run}, format="json"
    )
    missing = amir.post(
        models_url(company.a), {"name": "portal-stolen", "run_id": "0" * 32}, format="json"
    )
    assert foreign.status_code == 400, foreign.content
    assert foreign.content == missing.content
    assert mlflow_models(a_owns_the_session_run) == set()
    assert jobs_of(company.a) == 0


def test_a_run_in_an_experiment_of_no_unit_or_under_another_prefix_is_refused(
    company, a_owns_the_session_run
):
    company.b.mlflow_name_prefix = "bravo-"
    company.b.save()
    amir = client_for(company.amir)
    for run_id in (
        run_of(a_owns_the_session_run, tenant_tag=None),
        run_of(a_owns_the_session_run, tenant_tag=None, name=f"bravo-{uuid.uuid4().hex[:8]}"),
        # A tag for another unit wins over a name that looks like A's.
        run_of(a_owns_the_session_run, tenant_tag=company.b.slug, name=f"portal-{uuid.uuid4()}"),
    ):
        answer = amir.post(
            models_url(company.a), {"name": "portal-x", "run_id": run_id}, format="json"
        )
        assert answer.status_code == 400
    assert mlflow_models(a_owns_the_session_run) == set()


def test_a_run_in_an_experiment_tagged_for_the_unit_is_accepted(
    company, mlflow_server, eager_celery, django_capture_on_commit_callbacks
):
    run_id = run_of(mlflow_server, tenant_tag=company.a.slug)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(company.amir).post(
            models_url(company.a),
            {"name": f"{company.a.slug}-tagged", "run_id": run_id},
            format="json",
        )
    assert answer.status_code == 202, answer.content


def test_a_name_held_by_another_unit_is_refused_like_any_name_outside_the_units_namespace(
    company, a_owns_the_session_run
):
    a_owns_the_session_run.register("bravo-churn", tenant=company.b.slug)
    with tenant_scope(company.b):
        registry_sync(tenant=company.b)
    amir = client_for(company.amir)
    run_id = a_owns_the_session_run.run_id
    held = amir.post(
        models_url(company.a), {"name": "bravo-churn", "run_id": run_id}, format="json"
    )
    free = amir.post(models_url(company.a), {"name": "never-used", "run_id": run_id}, format="json")
    assert held.status_code == free.status_code == 400
    assert held.json()["detail"].replace("bravo-churn", "N") == free.json()["detail"].replace(
        "never-used", "N"
    )
    assert "portal-" in free.json()["detail"]
    assert mlflow_models(a_owns_the_session_run) == {"bravo-churn"}


def test_registration_answers_202_and_the_queued_task_registers_the_version(
    company, a_owns_the_session_run, eager_celery, django_capture_on_commit_callbacks
):
    amir = client_for(company.amir)
    with django_capture_on_commit_callbacks(execute=True):
        answer = amir.post(
            models_url(company.a),
            {"name": "portal-fraud-check", "run_id": a_owns_the_session_run.run_id},
            format="json",
        )
    assert answer.status_code == 202, answer.content
    followed = amir.get(answer.json()["job"]["url"])
    assert followed.status_code == 200
    job = followed.json()
    assert (job["status"], job["kind"], job["model"], job["version"]) == (
        "succeeded",
        "registration",
        "portal-fraud-check",
        1,
    )
    assert job["progress"] == "done"
    # MLflow 3 keeps a run's model as a logged model; the version points at it, as MLflow's own
    # registration does, so it can be downloaded and served.
    version = amir.get(f"{models_url(company.a)}portal-fraud-check/versions/1/").json()
    assert version["source"] == f"models:/{a_owns_the_session_run.model_id}"
    assert version["signature"]
    with django_capture_on_commit_callbacks(execute=True):
        second = amir.post(
            models_url(company.a),
            {"name": "portal-fraud-check", "logged_model_id": a_owns_the_session_run.model_id},
            format="json",
        )
    assert second.status_code == 202, second.content
    assert amir.get(second.json()["job"]["url"]).json()["version"] == 2
    assert (
        a_owns_the_session_run.client.get_registered_model("portal-fraud-check").tags[
            "portal.tenant"
        ]
        == company.a.slug
    )
    with tenant_scope(company.a):
        assert (
            AuditEvent.objects.filter(
                action="version.registered_from_portal", actor_label="amir"
            ).count()
            == 2
        )


def test_a_unit_adds_versions_to_its_own_model_whatever_its_name(
    company, a_owns_the_session_run, eager_celery, django_capture_on_commit_callbacks
):
    a_owns_the_session_run.register("credit-scoring", tenant=company.a.slug)
    with tenant_scope(company.a):
        registry_sync(tenant=company.a)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(company.amir).post(
            models_url(company.a),
            {"name": "credit-scoring", "run_id": a_owns_the_session_run.run_id},
            format="json",
        )
    assert answer.status_code == 202, answer.content
    with tenant_scope(company.a):
        assert RegisteredModel.objects.get(name="credit-scoring").versions.count() == 2


def test_another_unit_gets_a_404_for_a_registration_job(
    company, a_owns_the_session_run, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(company.amir).post(
            models_url(company.a),
            {"name": "portal-fraud-check", "run_id": a_owns_the_session_run.run_id},
            format="json",
        )
    url = answer.json()["job"]["url"]
    bob = client_for(company.bob)
    foreign = bob.get(url)
    missing = bob.get(url.replace(company.a.slug, company.b.slug))
    assert foreign.status_code == 404 and foreign.content == missing.content


def test_an_assignment_answers_202_and_the_queued_task_brings_the_model_in(
    company, mlflow_server, eager_celery, django_capture_on_commit_callbacks
):
    from portal.catalog.sync import unassigned_scan

    mlflow_server.register("orphan", tenant=None)
    unassigned_scan()
    admin = client_for(company.adam)
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin.post(
            "/api/v1/catalog/unassigned/orphan/assign/", {"tenant": company.a.slug}, format="json"
        )
    assert answer.status_code == 202
    job = admin.get(answer.json()["job"]["url"]).json()
    assert (job["status"], job["kind"], job["model"]) == ("succeeded", "assignment", "orphan")
    with tenant_scope(company.a):
        assert RegisteredModel.objects.filter(name="orphan").exists()
    # The assignment is the portal's record: a tag changed in MLflow afterwards does not move it.
    mlflow_server.client.set_registered_model_tag("orphan", "portal.tenant", company.b.slug)
    with tenant_scope(company.b):
        registry_sync(tenant=company.b, deep=True)
        assert not RegisteredModel.objects.filter(name="orphan").exists()
