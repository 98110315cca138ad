"""Rollout on the real local runtime and predictions through the gateway, end to end.

Each test starts the serving runtime with real scikit-learn models from the test MLflow server;
model servers are real ``mlflow models serve`` processes on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from chargeback.models import UsageEvent
from chargeback.services.metering import meter_deployment_hours
from governance.classification import MINIMAL_RISK_ANSWERS
from governance.models import Incident
from governance.tests.builders import classify
from portal.catalog.models import ModelVersion
from portal.catalog.sync import registry_sync
from portal.deployments.gateway import routes
from portal.deployments.gateway.recorder import recorder
from portal.deployments.models import GatewayMinute
from portal.deployments.tests.builders import state_of, wait_live
from portal.deployments.tests.serving import (
    credit_features,
    log_broken_model,
    log_constant_regressor,
    serving_runtime,
    wait_for,
)
from portal.monitoring.models import CapturedRequest
from tenants.scoping import tenant_scope
from tests.builders import client_for, make_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]

MINIMAL = MINIMAL_RISK_ANSWERS
_logged: dict[tuple[str, str], tuple[str, str]] = {}


def _model(mlflow_server, kind: str, tmp_path) -> tuple[str, str]:
    key = (mlflow_server.url, kind)
    if key not in _logged:
        if kind == "broken":
            _logged[key] = log_broken_model(mlflow_server.url, tmp_path)
        else:
            _logged[key] = log_constant_regressor(mlflow_server.url, float(kind))
    return _logged[key]


@pytest.fixture
def scorer(company, mlflow_server, tmp_path):
    """Model 'scorer' of tenant A: version 1 answers 1.0, version 2 answers 2.0, version 3 never
    loads; classified minimal risk, so staging requests are approved by the default policy."""
    client = mlflow_server.client
    client.create_registered_model("scorer", tags={"portal.tenant": company.a.slug})
    for kind in ("1", "2", "broken"):
        run_id, model_id = _model(mlflow_server, kind, tmp_path)
        client.create_model_version(
            "scorer", source=f"models:/{model_id}", run_id=run_id, model_id=model_id
        )
    with tenant_scope(company.a):
        registry_sync(tenant=company.a)
    response = client_for(company.amir).post(
        f"/api/v1/tenants/{company.a.slug}/models/scorer/classification/",
        {"answers": MINIMAL},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return company


def request_deployment(company, version: int, **extra) -> dict:
    response = client_for(company.amir).post(
        f"/api/v1/tenants/{company.a.slug}/deployments/",
        {
            "model": "scorer",
            "version": version,
            "environment": "staging",
            "instance_type": "cpu.small",
            **extra,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


class Gateway:
    def __init__(self, tenant: str, token: str, endpoint: str = "scorer-staging") -> None:
        self.client = Client()
        self.url = f"/serve/{tenant}/{endpoint}/invocations"
        self.token = token

    def post(self, body, content_type: str = "application/json", token: str | None = None):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token or self.token}"} if token != "" else {}
        return self.client.post(self.url, data=data, content_type=content_type, **headers)

    def predict(self, rows: int = 1) -> list:
        frame = credit_features(rows)
        response = self.post({"dataframe_split": frame.to_dict(orient="split", index=False)})
        assert response.status_code == 200, response.content
        return response.json()["predictions"]


def test_a_staging_revision_rolls_out_and_answers_every_input_format_through_the_gateway(scorer):
    company = scorer
    _, token = make_token(company.a, ["predict"])
    _, other_token = make_token(company.b, ["predict"])
    _, read_token = make_token(company.a, ["read"], name="reader")
    with serving_runtime():
        requested = request_deployment(company, 1)
        deployment = wait_live(company, requested["id"])
        assert deployment.traffic_weight == 100 and deployment.live_from is not None
        gateway = Gateway(company.a.slug, token)
        frame = credit_features(3)

        split = gateway.post({"dataframe_split": frame.to_dict(orient="split", index=False)})
        records = gateway.post({"dataframe_records": frame.to_dict(orient="records")})
        instances = gateway.post({"instances": frame.to_dict(orient="records")})
        inputs = gateway.post({"inputs": frame.to_dict(orient="list")})
        as_csv = gateway.post(frame.to_csv(index=False), content_type="text/csv")
        for response in (split, records, instances, inputs, as_csv):
            assert response.status_code == 200, response.content
            assert response.json()["predictions"] == pytest.approx([1.0, 1.0, 1.0])
            assert response["X-Deployment-Revision"] == "1"

        assert gateway.post({"dataframe_split": {}}, token="mlp_nonsense_x").status_code == 401
        assert gateway.post({"instances": []}, token="").status_code == 401
        assert gateway.post({"instances": []}, token=read_token).status_code == 403
        elsewhere = gateway.post({"instances": frame.to_dict(orient="records")}, token=other_token)
        assert elsewhere.status_code == 404
        missing = Gateway(company.a.slug, token, endpoint="no-such-endpoint").post({"inputs": []})
        assert missing.status_code == 404
        assert elsewhere.json()["error_code"] == missing.json()["error_code"]

        no_age = gateway.post(
            {"dataframe_split": frame.drop(columns="age").to_dict(orient="split", index=False)}
        )
        assert no_age.status_code == 400
        assert no_age.json()["error_code"] == "BAD_REQUEST" and "'age'" in no_age.json()["message"]
        wrong = frame.astype(object)
        wrong.loc[1, "income"] = "lots"
        bad_value = gateway.post({"dataframe_split": wrong.to_dict(orient="split", index=False)})
        assert bad_value.status_code == 400 and "'income'" in bad_value.json()["message"]
        assert gateway.post("{not json").status_code == 400
        assert gateway.post("income\n1", content_type="text/plain").status_code == 415

        recorder().flush()
        with tenant_scope(company.a):
            minutes = GatewayMinute.objects.filter(deployment_id=deployment.pk)
            assert sum(m.requests for m in minutes) == 9  # 5 answered, 4 refused
            assert sum(m.errors for m in minutes) == 4
            captured = CapturedRequest.objects.filter(deployment_id=deployment.pk)
            assert captured.count() == 5
            assert captured.first().columns == ["income", "debt_ratio", "age"]

        pid = state_of(company, deployment.pk).serving["pid"]
        environ = _environment_of(pid) | _environment_of(_first_child(pid) or pid)
        for secret in (
            "DATABASE_URL",
            "SECRET_KEY",
            "DJANGO_SECRET_KEY",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "MLFLOW_TRACKING_URI",
        ):
            assert secret not in environ


def test_a_canary_takes_its_share_and_a_rollback_restores_the_old_answers_in_seconds(scorer):
    company = scorer
    _, token = make_token(company.a, ["predict"])
    gateway = Gateway(company.a.slug, token)
    with serving_runtime():
        first = wait_live(company, request_deployment(company, 1)["id"])
        canary = wait_live(company, request_deployment(company, 2, canary_weight=20)["id"])
        assert state_of(company, first.pk).traffic_weight == 80 and canary.traffic_weight == 20
        routes.forget()

        answers = [gateway.predict()[0] for _ in range(300)]
        from_canary = sum(1 for a in answers if a == pytest.approx(2.0))
        # 20% of 300 is 60; four standard deviations of the binomial (6.9 each) either side.
        assert 32 <= from_canary <= 88, from_canary

        started = time.monotonic()
        response = client_for(company.amir).post(
            f"/api/v1/tenants/{company.a.slug}/deployments/{canary.pk}/rollback/",
            {"reason": "The canary answers differently."},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["revision"] == 1

        def only_old_answers():
            return all(gateway.predict()[0] == pytest.approx(1.0) for _ in range(20))

        wait_for(only_old_answers, timeout=5, what="the old version's answers")
        elapsed = time.monotonic() - started
        assert elapsed < 5
        assert state_of(company, canary.pk).state == "rolled_back"
        assert state_of(company, first.pk).traffic_weight == 100

        again = client_for(company.amir).post(
            f"/api/v1/tenants/{company.a.slug}/deployments/{first.pk}/rollback/", {}, format="json"
        )
        assert again.status_code == 409 and "warm" in again.json()["detail"]


def test_a_shadow_revisions_answers_are_captured_and_never_returned(scorer):
    company = scorer
    _, token = make_token(company.a, ["predict"])
    gateway = Gateway(company.a.slug, token)
    with serving_runtime():
        wait_live(company, request_deployment(company, 1)["id"])
        shadow = wait_live(company, request_deployment(company, 2, shadow=True)["id"])
        assert shadow.traffic_weight == 0
        routes.forget()
        answers = [gateway.predict(rows=2) for _ in range(10)]
        assert all(a == pytest.approx([1.0, 1.0]) for a in answers)

        def shadow_captured():
            recorder().flush()
            with tenant_scope(company.a):
                return (
                    CapturedRequest.objects.filter(deployment_id=shadow.pk, shadow=True).count()
                    == 10
                )

        wait_for(shadow_captured, timeout=10, what="the shadow's captured answers")
        with tenant_scope(company.a):
            kept = CapturedRequest.objects.filter(deployment_id=shadow.pk).first()
            assert kept.predictions == pytest.approx([2.0, 2.0])


def test_a_killed_model_server_is_restarted(scorer):
    company = scorer
    _, token = make_token(company.a, ["predict"])
    with serving_runtime():
        deployment = wait_live(company, request_deployment(company, 1)["id"])
        pid = deployment.serving["pid"]
        os.killpg(pid, signal.SIGKILL)

        def restarted():
            serving = state_of(company, deployment.pk).serving
            return serving["pid"] != pid and serving["state"] == "ready" and serving

        serving = wait_for(restarted, timeout=120, what="the model server to come back")
        assert serving["restarts"] == 1 and "exited" in serving["last_restart"]
        routes.forget()
        assert Gateway(company.a.slug, token).predict() == pytest.approx([1.0])


def test_a_revision_that_fails_its_health_checks_is_rolled_back_and_an_incident_opened(
    scorer, settings
):
    settings.SERVING_MAX_RESTARTS = 1
    company = scorer
    _, token = make_token(company.a, ["predict"])
    with serving_runtime():
        first = wait_live(company, request_deployment(company, 1)["id"])
        broken = request_deployment(company, 3)

        def failed():
            return state_of(company, broken["id"]).state == "failed"

        wait_for(failed, timeout=120, what="the broken revision to fail")
        assert state_of(company, first.pk).traffic_weight == 100
        routes.forget()
        assert Gateway(company.a.slug, token).predict() == pytest.approx([1.0])
        with tenant_scope(company.a):
            incident = Incident.objects.get(deployment_id=broken["id"])
        assert incident.source == "rollout" and "health" in incident.title


def test_a_prohibited_reclassification_makes_the_next_prediction_answer_503_within_5_s_and_stops_the_compute_meter(
    scorer,
):
    company = scorer
    _, token = make_token(company.a, ["predict"])
    gateway = Gateway(company.a.slug, token)
    frame = credit_features(1)
    with serving_runtime() as runtime:
        deployment = wait_live(company, request_deployment(company, 1)["id"])
        assert gateway.predict() == pytest.approx([1.0])
        with tenant_scope(company.a):
            version = ModelVersion.objects.get(model__name="scorer", version=1)

        started = time.monotonic()
        classify(company.a, version, "prohibited")

        def refused():
            response = gateway.post({"dataframe_split": frame.to_dict(orient="split", index=False)})
            return response if response.status_code == 503 else None

        answer = wait_for(refused, timeout=5, what="the endpoint to answer 503")
        assert time.monotonic() - started < 5
        message = answer.json()["message"]
        assert message.startswith("'scorer-staging' is suspended: The model is now classified")
        assert "prohibited AI practice" in message
        wait_for(
            lambda: deployment.pk not in runtime.servers, timeout=10, what="the server to stop"
        )

    suspended = state_of(company, deployment.pk)
    assert suspended.state == "suspended" and suspended.live_until is None
    with tenant_scope(company.a):
        suspension = suspended.suspensions.get()
    meter_deployment_hours(until=timezone.now() + timedelta(hours=3))
    with tenant_scope(company.a):
        hours = sum(
            event.quantity
            for event in UsageEvent.objects.filter(
                deployment_id=deployment.pk, meter="deployment_hours"
            )
        )
    served = (suspension.started_at - deployment.live_from).total_seconds()
    assert float(hours) * 3600 == pytest.approx(served, abs=0.01)


def _environment_of(pid: int) -> set[str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item}


def _first_child(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None
