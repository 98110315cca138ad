"""``point_mlflow_webhook`` points a real MLflow server's registry webhook at the portal; MLflow
then delivers signed events, and the portal syncs the model they name."""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError, call_command

from governance.models import AuditEvent
from portal.catalog.models import RegisteredModel
from portal.demo_training import log_demo_model
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
    call_command("point_mlflow_webhook", url=f"{live_server.url}/api/v1/webhooks/mlflow/")
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


def platform_events(action: str) -> list[dict]:
    return list(
        AuditEvent.objects.dangerously_across_tenants()
        .filter(action=action, tenant=None)
        .values_list("after", flat=True)
    )


def test_pointing_the_webhook_again_updates_the_one_mlflow_has_and_both_are_audited(
    delivering_mlflow, settings, capsys
):
    settings.MLFLOW_WEBHOOK_SECRET = "shared-with-mlflow-" + "y" * 16
    call_command("point_mlflow_webhook", url="http://old.internal:8000/api/v1/webhooks/mlflow/")
    call_command("point_mlflow_webhook", url="http://web:8000/api/v1/webhooks/mlflow/")

    assert capsys.readouterr().out.splitlines() == [
        "MLflow webhook created: http://old.internal:8000/api/v1/webhooks/mlflow/",
        "MLflow webhook updated: http://web:8000/api/v1/webhooks/mlflow/",
    ]
    from mlflow import MlflowClient

    (hook,) = MlflowClient(tracking_uri=delivering_mlflow.url).list_webhooks()
    assert hook.url == "http://web:8000/api/v1/webhooks/mlflow/"
    assert [event["url"] for event in platform_events("mlflow_webhook.updated")] == [hook.url]
    (created,) = platform_events("mlflow_webhook.created")
    assert settings.MLFLOW_WEBHOOK_SECRET not in str(created)


def test_the_webhook_is_not_pointed_while_the_portal_has_no_secret_to_check_it_with(settings):
    settings.MLFLOW_WEBHOOK_SECRET = ""
    with pytest.raises(CommandError, match="MLFLOW_WEBHOOK_SECRET is empty"):
        call_command("point_mlflow_webhook", url="http://web:8000/api/v1/webhooks/mlflow/")
    assert platform_events("mlflow_webhook.created") == []
