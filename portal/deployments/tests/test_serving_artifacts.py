"""The local runtime serves only the files a version's approval was bound to, and fetches them off
the loop that checks and restarts model servers.

Real scikit-learn models on the test MLflow server, real ``mlflow models serve`` processes.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from governance.classification import MINIMAL_RISK_ANSWERS
from governance.models import Incident
from portal.catalog.mlflow_adapter import MlflowRegistry
from portal.catalog.sync import registry_sync
from portal.deployments.runtime import HEARTBEAT_SECONDS, ServingRuntime
from portal.deployments.tests.builders import state_of, wait_live
from portal.deployments.tests.serving import log_constant_regressor, serving_runtime, wait_for
from tenants.scoping import tenant_scope
from tests.builders import client_for
from tests.stalling_proxy import StallingProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]


def register(company, mlflow_server, name: str, answer: float) -> str:
    """A model of tenant A with one version, its own logged model (the model id), classified
    minimal risk so that staging requests are approved by the default policy."""
    run_id, model_id = log_constant_regressor(mlflow_server.url, answer)
    client = mlflow_server.client
    client.create_registered_model(name, tags={"portal.tenant": company.a.slug})
    client.create_model_version(
        name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
    )
    with tenant_scope(company.a):
        registry_sync(tenant=company.a, only=name)
    response = client_for(company.amir).post(
        f"/api/v1/tenants/{company.a.slug}/models/{name}/classification/",
        {"answers": MINIMAL_RISK_ANSWERS},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return model_id


def deploy(company, name: str) -> int:
    response = client_for(company.amir).post(
        f"/api/v1/tenants/{company.a.slug}/deployments/",
        {"model": name, "version": 1, "environment": "staging", "instance_type": "cpu.small"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_revision_whose_model_file_was_swapped_in_mlflow_never_starts_a_server(
    company, mlflow_server, tmp_path
):
    model_id = register(company, mlflow_server, "swapped", 1.0)
    names = [a.path for a in mlflow_server.client.list_logged_model_artifacts(model_id)]
    model_file = next(n for n in names if n.startswith("model.") and n != "model.py")
    (tmp_path / model_file).write_bytes(b"not the model that was approved")
    mlflow_server.client.log_model_artifact(model_id, str(tmp_path / model_file))

    with serving_runtime() as runtime:
        deployment_id = deploy(company, "swapped")

        def failed():
            deployment = state_of(company, deployment_id)
            return deployment if deployment.state == "failed" else None

        deployment = wait_for(failed, timeout=180, what="the revision to fail")
        server = runtime.servers[deployment_id]
        assert server.process is None and server.pid is None
    assert "do not match the approved artifact" in deployment.serving["message"]
    assert model_file in deployment.serving["message"]
    assert deployment.serving["pid"] is None
    with tenant_scope(company.a):
        incident = Incident.objects.get(deployment_id=deployment_id)
    assert "do not match the approved artifact" in incident.description


def test_a_verified_copy_serves_a_new_revision_without_mlflow(company, mlflow_server, settings):
    register(company, mlflow_server, "kept", 1.0)
    with serving_runtime():
        wait_live(company, deploy(company, "kept"), timeout=240)
    # MLflow is gone for the runtime; the files verified for revision 1 serve revision 2.
    with serving_runtime(registry=MlflowRegistry("http://127.0.0.1:9")):
        second = deploy(company, "kept")
        assert wait_live(company, second, timeout=240).serving["state"] == "ready"


def test_a_slow_mlflow_download_does_not_delay_another_servers_restart(company, mlflow_server):
    fast_model = register(company, mlflow_server, "fast", 1.0)
    slow_model = register(company, mlflow_server, "slow", 2.0)
    assert fast_model != slow_model
    with (
        StallingProxy(mlflow_server.url, delay=6.0, budget=90.0) as proxy,
        serving_runtime(registry=MlflowRegistry(proxy.url)),
    ):
        fast = wait_live(company, deploy(company, "fast"), timeout=240)
        proxy.slow_paths.add(slow_model)  # its files, their listings, its logged model
        slow = deploy(company, "slow")
        assert proxy.first_stall.wait(timeout=60), "the slow model's download never started"

        killed_at = time.monotonic()
        os.killpg(fast.serving["pid"], signal.SIGKILL)

        def restarted():
            serving = state_of(company, fast.pk).serving
            return serving if serving["restarts"] == 1 else None

        wait_for(restarted, timeout=120, what="the fast model's server to be restarted")
        noticed_after = time.monotonic() - killed_at
        still_downloading = state_of(company, slow).state == "deploying"
        assert noticed_after < HEARTBEAT_SECONDS, noticed_after
        assert still_downloading and proxy.stalled >= 1
        assert wait_live(company, slow, timeout=240).serving["state"] == "ready"


@pytest.mark.django_db
def test_kept_copies_no_revision_has_used_for_the_keeping_time_are_removed(settings, tmp_path):
    settings.SERVING_DIR = tmp_path / "serving"
    settings.SERVING_VERIFIED_KEEP_DAYS = 30
    verified = settings.SERVING_DIR / "verified"
    long_ago = time.time() - 31 * 86400
    for name in ("forgotten", "in-use", "recent", "forgotten.123.partial"):
        (verified / name).mkdir(parents=True)
        (verified / name / "MLmodel").write_text("flavors: {}\n")
    for name in ("forgotten", "in-use", "forgotten.123.partial"):
        os.utime(verified / name, (long_ago, long_ago))
    runtime = ServingRuntime()

    removed = runtime.prune_verified(in_use={"in-use"})

    assert sorted(p.name for p in verified.iterdir()) == ["in-use", "recent"]
    assert removed == ["forgotten", "forgotten.123.partial"]
