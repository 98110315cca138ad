from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.monitoring.models import Baseline, DriftRun, Monitor
from portal.monitoring.tests.builders import make_deployment, training_csv
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def drift_url(tenant, deployment) -> str:
    return f"/api/v1/tenants/{tenant.slug}/deployments/{deployment.pk}/drift/"


def finished_runs(deployment, count: int) -> list[DriftRun]:
    with tenant_scope(deployment.tenant_id):
        return [
            DriftRun.objects.create(
                tenant_id=deployment.tenant_id,
                deployment=deployment,
                status="succeeded",
                drift_status="warning",
                columns=[],
            )
            for _ in range(count)
        ]


def test_drift_reports_are_listed_newest_first_in_bounded_pages(company):
    deployment = make_deployment(company.a)
    runs = finished_runs(deployment, 5)
    client = client_for(company.ava)
    answer = client.get(drift_url(company.a, deployment), {"page_size": 2})
    assert answer.status_code == 200
    assert answer.json()["count"] == 5
    assert [r["id"] for r in answer.json()["results"]] == [runs[4].pk, runs[3].pk]
    with CaptureQueriesContext(connection) as few:
        client.get(drift_url(company.a, deployment), {"page_size": 2})
    with CaptureQueriesContext(connection) as many:
        client.get(drift_url(company.a, deployment), {"page_size": 5})
    assert len(few) == len(many)


def test_another_tenant_gets_a_404_for_drift_monitors_and_baselines(company):
    deployment = make_deployment(company.a)
    finished_runs(deployment, 1)
    with tenant_scope(company.a):
        monitor = Monitor.objects.create(tenant=company.a, endpoint=deployment.name)
    bob = client_for(company.bob)
    version = deployment.model_version
    assert bob.get(drift_url(company.a, deployment)).status_code == 404
    assert bob.get(drift_url(company.b, deployment)).status_code == 404
    assert bob.get(f"/api/v1/tenants/{company.b.slug}/monitors/{monitor.pk}/").status_code == 404
    assert bob.get(f"/api/v1/tenants/{company.b.slug}/monitors/").json()["results"] == []
    baseline = f"/api/v1/tenants/{company.b.slug}/models/{version.model.name}/versions/1/baseline/"
    assert (
        bob.post(baseline, {"file": SimpleUploadedFile("t.csv", training_csv())}).status_code == 404
    )


def test_an_engineer_creates_and_changes_a_monitor_and_a_viewer_cannot(company):
    deployment = make_deployment(company.a)
    url = f"/api/v1/tenants/{company.a.slug}/monitors/"
    body = {
        "endpoint": deployment.name,
        "window": "rows",
        "window_rows": 5000,
        "column_overrides": {"income": {"method": "psi", "threshold": 0.2}},
        "alert_emails": ["oncall@example.com"],
        "open_incident": True,
    }
    assert client_for(company.ava).post(url, body, format="json").status_code == 403
    created = client_for(company.amir).post(url, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["column_overrides"] == {"income": {"method": "psi", "threshold": 0.2}}
    again = client_for(company.amir).post(url, body, format="json")
    assert again.status_code == 409
    detail = f"{url}{created.json()['id']}/"
    changed = client_for(company.amir).patch(detail, {"interval_minutes": 15}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["interval_minutes"] == 15
    moved = client_for(company.amir).patch(detail, {"endpoint": "other"}, format="json")
    assert moved.status_code == 400 and "cannot be changed: endpoint" in moved.json()["detail"]
    bad = client_for(company.amir).patch(
        f"{url}{created.json()['id']}/",
        {"column_overrides": {"age": {"method": "x"}}},
        format="json",
    )
    assert bad.status_code == 400 and "unknown method" in bad.json()["detail"]


def test_a_baseline_upload_answers_201_and_a_bad_file_400_with_a_sentence(company, settings):
    deployment = make_deployment(company.a)
    url = (
        f"/api/v1/tenants/{company.a.slug}/models/{deployment.model_version.model.name}"
        "/versions/1/baseline/"
    )
    engineer = client_for(company.amir)
    made = engineer.post(
        url,
        {"file": SimpleUploadedFile("train.csv", training_csv()), "prediction_column": "label"},
        format="multipart",
    )
    assert made.status_code == 201, made.json()
    assert made.json()["rows"] == 2000 and made.json()["status"] == "ready"
    assert engineer.get(url).json()["prediction_columns"] == ["prediction"]

    broken = engineer.post(url, {"file": SimpleUploadedFile("x.parquet", b"PAR1nonsense")})
    assert broken.status_code == 400 and "Parquet" in broken.json()["detail"]
    settings.BASELINE_UPLOAD_MAX_BYTES = 1024
    large = engineer.post(url, {"file": SimpleUploadedFile("t.csv", training_csv())})
    assert large.status_code == 400 and "at most 1024 bytes" in large.json()["detail"]
    missing = engineer.post(url, {"source": "dataset"}, format="json")
    assert missing.status_code == 400 and "logged no dataset" in missing.json()["detail"]


def test_a_baseline_from_another_units_dataset_file_is_refused_with_a_sentence(
    company, settings, tmp_path
):
    settings.BASELINE_DATASET_ROOTS = [str(tmp_path / "datasets")]
    theirs = tmp_path / "datasets" / company.b.slug / "train.csv"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(training_csv(500))
    deployment = make_deployment(company.a)
    version = deployment.model_version
    with tenant_scope(company.a):
        version.datasets = [{"name": "train", "source": str(theirs), "context": "training"}]
        version.save()
    url = f"/api/v1/tenants/{company.a.slug}/models/{version.model.name}/versions/1/baseline/"

    refused = client_for(company.amir).post(url, {"source": "dataset"}, format="json")

    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert f"{tmp_path / 'datasets' / company.a.slug}/" in detail and detail.endswith(".")
    with tenant_scope(company.a):
        assert not Baseline.objects.exists()


def test_posting_to_drift_queues_one_run_and_answers_202(
    company, django_capture_on_commit_callbacks
):
    deployment = make_deployment(company.a)
    engineer = client_for(company.amir)
    first = engineer.post(drift_url(company.a, deployment))
    second = engineer.post(drift_url(company.a, deployment))
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "queued"
