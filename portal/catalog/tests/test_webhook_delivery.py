"""A real MLflow server delivers its signed registry webhook to the portal, which syncs the model."""

from __future__ import annotations

import time

import pytest

from portal.catalog.models import RegisteredModel
from portal.demo_training import ensure_webhook, log_demo_model
from tenants.scoping import tenant_scope
from tests.mlflow_server import MlflowServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivering_mlflow(tmp_path, settings):
    server = MlflowServer(
        tmp_path / "mlflow",
        extra_env={
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_WEBHOOK_CACHE_TTL": "1",
        },
    ).start()
    settings.MLFLOW_TRACKING_URI = server.url
    yield server
    server.stop()


def test_mlflow_delivers_a_signed_webhook_and_the_new_version_lands_in_the_catalog(
    company, delivering_mlflow, live_server, settings, eager_celery
):
    settings.MLFLOW_WEBHOOK_SECRET = "shared-with-mlflow-" + "x" * 16
    ensure_webhook(
        delivering_mlflow.url,
        url=f"{live_server.url}/api/v1/webhooks/mlflow/",
        secret=settings.MLFLOW_WEBHOOK_SECRET,
    )
    time.sleep(1.5)  # MLflow caches its webhook list (TTL set to 1 s above)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=delivering_mlflow.url)
    client.create_registered_model("webhook-model", tags={"portal.tenant": company.a.slug})
    log_demo_model(
        delivering_mlflow.url, registered_model_name="webhook-model", experiment="webhook"
    )

    deadline = time.monotonic() + 30
    versions = 0
    while time.monotonic() < deadline and versions < 1:
        with tenant_scope(company.a):
            model = RegisteredModel.objects.filter(name="webhook-model").first()
            versions = model.versions.count() if model else 0
        time.sleep(0.2)
    assert versions == 1
