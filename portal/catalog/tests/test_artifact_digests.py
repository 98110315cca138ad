"""An approval is bound to the bytes of the approved artifact files, not to MLflow's word."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.test import Client

from governance.models import ApprovalRequest, AuditEvent, Incident
from governance.tests.builders import approved_card, classify, decide, request
from portal.catalog.digests import manifest_digest, manifest_mismatches, manifest_of_folder
from portal.catalog.models import ModelVersion
from portal.catalog.tests.builders import sync
from portal.deployments.models import Deployment
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def version_of(tenant, name: str = "credit-scorer", number: int = 1) -> ModelVersion:
    with tenant_scope(tenant):
        return ModelVersion.objects.select_related("model").get(model__name=name, version=number)


def model_file(mlflow_server, model_id: str) -> str:
    """The path of the logged model's serialized estimator among its artifact files."""
    names = [a.path for a in mlflow_server.client.list_logged_model_artifacts(model_id)]
    return next(n for n in names if n.startswith("model.") and n != "model.py")


@pytest.fixture
def approved_version(company, mlflow_server, tmp_path):
    """A real high-risk model logged to MLflow, synced, with a production deployment that two
    governance leads approved."""
    from portal.demo_training import log_demo_model

    # 300 rows (the default): fewer leave too few applicants per age group for a fairness
    # metric within the default policy's threshold.
    run_id, info = log_demo_model(mlflow_server.url, experiment="digest-tests")
    client = mlflow_server.client
    client.create_registered_model("credit-scorer", tags={"portal.tenant": company.a.slug})
    client.create_model_version(
        "credit-scorer", source=f"models:/{info.model_id}", run_id=run_id, model_id=info.model_id
    )
    sync(company.a)
    version = version_of(company.a)
    classify(company.a, version, "high")
    approved_card(company.a, version)
    deployment = request(company.a, version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    assert decide(company.grace, approval.pk).status_code == 200
    assert decide(company.gus, approval.pk).status_code == 200
    with tenant_scope(company.a):
        assert ApprovalRequest.objects.get(pk=approval.pk).state == "approved"
    return info.model_id, deployment, approval


def test_a_versions_digest_is_a_manifest_of_the_sha256_of_every_file(
    company, mlflow_server, approved_version, tmp_path
):
    model_id, _, _ = approved_version
    version = version_of(company.a)
    import mlflow

    mlflow.set_tracking_uri(mlflow_server.url)
    location = mlflow_server.client.get_logged_model(model_id).artifact_location
    downloaded = Path(
        mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(tmp_path))
    )
    name = model_file(mlflow_server, model_id)
    expected = hashlib.sha256((downloaded / name).read_bytes()).hexdigest()

    assert version.artifact_manifest[name]["sha256"] == expected
    assert version.artifact_manifest == manifest_of_folder(downloaded)
    assert version.artifact_digest == manifest_digest(version.artifact_manifest)
    assert manifest_mismatches(downloaded, version.artifact_manifest) == []
    assert version.artifact_size_bytes == sum(
        entry["size"] for entry in version.artifact_manifest.values()
    )


def test_a_model_file_overwritten_in_mlflow_marks_an_approved_version_tampered(
    company, mlflow_server, approved_version, tmp_path
):
    model_id, deployment, approval = approved_version
    recorded = version_of(company.a).artifact_digest
    sync(company.a, deep=True)
    assert version_of(company.a).tampered_at is None  # nothing changed: no false alarm

    name = model_file(mlflow_server, model_id)
    swapped = tmp_path / name
    swapped.write_bytes(b"another model entirely")
    mlflow_server.client.log_model_artifact(model_id, str(swapped))
    sync(company.a, deep=True)

    version = version_of(company.a)
    assert version.tampered_at is not None
    assert name in version.tamper_report
    assert version.artifact_digest == recorded  # what was approved stays on record
    with tenant_scope(company.a):
        assert ApprovalRequest.objects.get(pk=approval.pk).state == "superseded"
        assert Deployment.objects.get(pk=deployment.pk).state == "cancelled"
        incident = Incident.objects.get(model=version.model, source="artifact")
        assert "changed in MLflow" in incident.title and name in incident.description
        tampered = AuditEvent.objects.get(action="version.artifact_tampered")
        assert tampered.object_id == str(version.pk)
        assert any(name in change for change in tampered.after["changes"])
    shown = (
        client_for(company.amir)
        .get(f"/api/v1/tenants/{company.a.slug}/models/credit-scorer/versions/1/")
        .json()
    )
    assert shown["tampered"] is True and name in shown["tamper_report"]
    browser = Client()
    browser.force_login(company.amir)
    page = browser.get(f"/t/{company.a.slug}/models/credit-scorer/versions/1/")
    assert page.status_code == 200 and b"Tampered" in page.content


def test_a_tampered_version_cannot_be_deployed_or_approved(
    company, mlflow_server, approved_version, tmp_path
):
    model_id, _, _ = approved_version
    version = version_of(company.a)
    # A second request waits for approval when the files change under it.
    waiting = request(company.a, version, company.amir, name="credit-scorer-eu")
    with tenant_scope(company.a):
        pending = waiting.approvals.get()
    name = model_file(mlflow_server, model_id)
    (tmp_path / name).write_bytes(b"swapped")
    mlflow_server.client.log_model_artifact(model_id, str(tmp_path / name))
    sync(company.a, deep=True)

    refused = client_for(company.amir).post(
        f"/api/v1/tenants/{company.a.slug}/deployments/",
        {
            "model": "credit-scorer",
            "version": 1,
            "environment": "staging",
            "instance_type": "cpu.small",
        },
        format="json",
    )
    assert refused.status_code == 400
    assert "changed in MLflow" in refused.json()["detail"]
    decided = decide(company.grace, pending.pk)
    assert decided.status_code == 400
    assert "cannot be approved" in decided.json()["detail"]
    with tenant_scope(company.a):
        assert ApprovalRequest.objects.get(pk=pending.pk).state == "superseded"


def test_a_deep_sync_hashes_again_only_approved_or_serving_versions(
    company, mlflow_server, approved_version, monkeypatch
):
    from portal.catalog.mlflow_adapter import MlflowRegistry

    mlflow_server.client.create_model_version(
        "credit-scorer",
        source=f"models:/{approved_version[0]}",
        model_id=approved_version[0],
    )
    sync(company.a)  # version 2 is seen, hashed once, never approved
    checked = []
    original = MlflowRegistry.artifact_files

    def counting(self, *, source):
        checked.append(source)
        return original(self, source=source)

    monkeypatch.setattr(MlflowRegistry, "artifact_files", counting)
    sync(company.a, deep=True)
    assert len(checked) == 1
    assert version_of(company.a, number=1).artifacts_checked_at is not None
    assert version_of(company.a, number=2).artifacts_checked_at is None


def test_a_version_recorded_before_manifests_gets_one_and_keeps_its_approval(
    company, mlflow_server, approved_version, tmp_path
):
    """Its old digest covered the file listing with sizes and the MLmodel text; the deep sync
    records the manifest when the files still give that digest, and the approval follows."""
    import json

    import mlflow

    from portal.deployments.selectors import approval_in_force

    model_id, deployment, approval = approved_version
    mlflow.set_tracking_uri(mlflow_server.url)
    location = mlflow_server.client.get_logged_model(model_id).artifact_location
    files = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(tmp_path)))
    listing = sorted(
        (p.relative_to(files).as_posix(), p.stat().st_size) for p in files.rglob("*") if p.is_file()
    )
    old_digest = hashlib.sha256(
        (
            json.dumps(listing, separators=(",", ":")) + "\n" + (files / "MLmodel").read_text()
        ).encode()
    ).hexdigest()
    with tenant_scope(company.a):
        ModelVersion.objects.filter(pk=approval.model_version_id).update(
            artifact_manifest={}, artifact_digest=old_digest
        )
        ApprovalRequest.objects.filter(pk=approval.pk).update(artifact_digest=old_digest)

    sync(company.a, deep=True)

    version = version_of(company.a)
    assert version.tampered_at is None
    assert version.artifact_manifest == manifest_of_folder(files)
    assert version.artifact_digest == manifest_digest(version.artifact_manifest)
    with tenant_scope(company.a):
        assert approval_in_force(Deployment.objects.get(pk=deployment.pk)).pk == approval.pk
        recorded = AuditEvent.objects.get(action="version.manifest_recorded")
    assert recorded.before == {"artifact_digest": old_digest}
    assert recorded.after["approvals"] == [approval.pk]
