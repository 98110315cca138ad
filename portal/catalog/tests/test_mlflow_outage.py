"""MLflow stopping in the middle of a sync: the catalog stays whole and keeps serving."""

from __future__ import annotations

import time

import pytest

from portal.catalog.mlflow_adapter import MlflowRegistry, MlflowUnavailable
from portal.catalog.models import RegisteredModel, SyncRun
from portal.catalog.sync import registry_sync
from portal.demo_training import log_demo_model
from tenants.scoping import tenant_scope
from tests.builders import client_for
from tests.mlflow_server import MlflowServer
from tests.slow_peers import TricklingServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_mlflow(tmp_path, settings):
    """A server of this test's own, which the test may stop."""
    server = MlflowServer(tmp_path / "mlflow").start()
    settings.MLFLOW_TRACKING_URI = server.url
    yield server
    server.stop()


def test_mlflow_stopping_mid_sync_leaves_the_catalog_intact_and_the_run_failed_with_a_reason(
    company, own_mlflow, monkeypatch
):
    run_id, info = log_demo_model(own_mlflow.url)
    registry = MlflowRegistry(own_mlflow.url)
    for name in ("alpha", "beta", "gamma"):
        registry.client.create_registered_model(name, tags={"portal.tenant": company.a.slug})
        registry.client.create_model_version(
            name, source=f"models:/{info.model_id}", run_id=run_id, model_id=info.model_id
        )
    with tenant_scope(company.a):
        registry_sync(tenant=company.a, registry=registry)
    for name in ("alpha", "beta", "gamma"):
        registry.client.create_model_version(
            name, source=f"models:/{info.model_id}", run_id=run_id, model_id=info.model_id
        )

    monkeypatch.setattr("portal.catalog.sync.BATCH", 1)  # one model per MLflow read

    class StopsHalfway(MlflowRegistry):
        reads = 0

        def versions_of_models(self, models):
            StopsHalfway.reads += 1
            if StopsHalfway.reads == 2:
                own_mlflow.stop()
            return super().versions_of_models(models)

    with tenant_scope(company.a), pytest.raises(MlflowUnavailable):
        registry_sync(tenant=company.a, registry=StopsHalfway(own_mlflow.url))

    with tenant_scope(company.a):
        failed = SyncRun.objects.order_by("-started_at").first()
        counts = {m.name: m.versions.count() for m in RegisteredModel.objects.all()}
        flagged = RegisteredModel.objects.filter(gone_from_mlflow=True).count()
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.error.startswith("MLflow could not list model versions")
    assert counts == {"alpha": 2, "beta": 1, "gamma": 1}  # alpha fully updated, the rest untouched
    assert flagged == 0

    listed = client_for(company.amir).get(f"/api/v1/tenants/{company.a.slug}/models/")
    assert listed.status_code == 200 and listed.json()["count"] == 3
    runs = client_for(company.amir).get(f"/api/v1/tenants/{company.a.slug}/sync/").json()["results"]
    assert runs[0]["status"] == "failed" and runs[1]["status"] == "succeeded"


def test_a_sync_against_an_unreachable_mlflow_fails_fast_with_a_sentence(company, settings):
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens on the discard port
    with tenant_scope(company.a), pytest.raises(MlflowUnavailable) as raised:
        registry_sync(tenant=company.a)
    assert "MLflow could not list registered models" in raised.value.detail
    with tenant_scope(company.a):
        assert SyncRun.objects.get().status == "failed"


def test_an_mlflow_that_trickles_its_answer_is_cut_at_the_deadline(settings):
    settings.MLFLOW_DEADLINE_SECONDS = 2
    trickling = TricklingServer(every=0.5, lasts=30)
    registry = MlflowRegistry(trickling.url(""))

    started = time.monotonic()
    try:
        with pytest.raises(MlflowUnavailable) as refused:
            list(registry.search_models())
        took = time.monotonic() - started
    finally:
        trickling.stop()

    assert took < 4, f"the call went on for {took:.1f} s"
    assert "did not answer in full within 2 seconds" in refused.value.detail
