"""The KServe target against recorded Kubernetes API answers.

A real ``kubernetes.client.ApiClient`` does the work; only its urllib3 pool manager is replaced by
one that answers with the JSON under ``recorded/kserve/`` and keeps every request it was sent, so
the client's own URL building, serialization and error handling run as they do against a cluster.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

kubernetes = pytest.importorskip("kubernetes")

from urllib3.response import HTTPResponse  # noqa: E402 (after the skip when the extra is missing)

from portal.deployments.targets import (  # noqa: E402
    TargetError,
    TargetNotFound,
    TargetState,
    get_target,
    revision_target_name,
)
from portal.deployments.targets.kserve import KServeTarget, v2_request  # noqa: E402

RECORDED = Path(__file__).parent / "recorded" / "kserve"
NAME = revision_target_name(tenant="acme", name="churn", revision=2)
MODEL_URI = "s3://acme-models/mlflow/7/3f9c2b/artifacts/model"
CONFIG = {
    "instance_type": "gpu.t4",
    "replicas": 2,
    "tenant": "acme",
    "deployment_id": 41,
    "revision": 2,
    "environment": "production",
}


class RecordedKubernetes:
    """A urllib3 pool manager that plays recorded API answers in order."""

    def __init__(self, *names: str) -> None:
        self.recordings = [json.loads((RECORDED / f"{n}.json").read_text()) for n in names]
        self.requests: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> HTTPResponse:
        parts = urlsplit(url)
        body = kwargs.get("body")
        self.requests.append(
            {
                "method": method,
                "path": parts.path,
                "query": parts.query or _query(kwargs.get("fields")),
                "headers": dict(kwargs.get("headers") or {}),
                "body": json.loads(body) if body else None,
            }
        )
        assert self.recordings, f"no recorded answer left for {method} {parts.path}"
        recording = self.recordings.pop(0)
        assert (method, parts.path) == (
            recording["request"]["method"],
            recording["request"]["path"],
        ), f"the client sent {method} {parts.path}, the recording expects {recording['request']}"
        answer = recording["response"]
        return HTTPResponse(
            body=json.dumps(answer["body"]).encode(),
            status=answer["status"],
            reason=answer["reason"],
            headers={"Content-Type": "application/json"},
            preload_content=True,
        )


def _query(fields: Any) -> str:
    from urllib.parse import urlencode

    return urlencode(fields or [])


def kserve_target(cluster: RecordedKubernetes) -> KServeTarget:
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://kubernetes.test"
    api_client = kubernetes.client.ApiClient(configuration)
    api_client.rest_client.pool_manager = cluster
    return KServeTarget(api_client=api_client, namespace="portal-models")


@pytest.fixture(autouse=True)
def _kserve_namespace(settings: Any) -> None:
    settings.KSERVE_NAMESPACE = "portal-models"


def test_the_manifest_serves_the_mlflow_format_over_the_v2_protocol() -> None:
    manifest = KServeTarget(namespace="portal-models").render_inference_service(
        NAME, MODEL_URI, CONFIG
    )

    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
    assert manifest["kind"] == "InferenceService"
    assert manifest["metadata"]["name"] == "acme-churn-r2"
    assert manifest["metadata"]["namespace"] == "portal-models"
    model = manifest["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"}
    assert model["protocolVersion"] == "v2"
    assert model["storageUri"] == MODEL_URI


def test_a_gpu_instance_type_asks_for_one_gpu_with_equal_requests_and_limits() -> None:
    manifest = KServeTarget().render_inference_service(NAME, MODEL_URI, CONFIG)

    resources = manifest["spec"]["predictor"]["model"]["resources"]
    assert resources["limits"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert resources["requests"] == resources["limits"]


def test_a_cpu_instance_type_asks_for_no_gpu() -> None:
    manifest = KServeTarget().render_inference_service(
        NAME, MODEL_URI, {**CONFIG, "instance_type": "cpu.small"}
    )

    assert manifest["spec"]["predictor"]["model"]["resources"]["limits"] == {
        "cpu": "2",
        "memory": "4Gi",
    }


def test_replicas_set_the_floor_and_the_autoscaler_may_double_them() -> None:
    predictor = KServeTarget().render_inference_service(NAME, MODEL_URI, CONFIG)["spec"][
        "predictor"
    ]

    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 4)


def test_the_manifest_is_labelled_with_tenant_deployment_and_revision() -> None:
    manifest = KServeTarget().render_inference_service(NAME, MODEL_URI, CONFIG)

    expected = {
        "app.kubernetes.io/managed-by": "mlops-portal",
        "mlops-portal/tenant": "acme",
        "mlops-portal/deployment-id": "41",
        "mlops-portal/revision": "2",
    }
    assert manifest["metadata"]["labels"] == expected
    assert manifest["spec"]["predictor"]["labels"] == expected


def test_the_namespace_comes_from_settings(settings: Any) -> None:
    settings.KSERVE_NAMESPACE = "models-eu"

    manifest = KServeTarget().render_inference_service(NAME, MODEL_URI, CONFIG)

    assert manifest["metadata"]["namespace"] == "models-eu"


def test_the_predictor_runs_as_non_root_on_a_read_only_root_without_privileges() -> None:
    predictor = KServeTarget().render_inference_service(NAME, MODEL_URI, CONFIG)["spec"][
        "predictor"
    ]

    pod, container = predictor["securityContext"], predictor["model"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert predictor["automountServiceAccountToken"] is False
    assert container["runAsNonRoot"] is True and container["runAsUser"] != 0
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["privileged"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    # The one writable place: a /tmp of its own.
    assert predictor["model"]["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    assert predictor["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_the_network_policy_lets_in_only_the_gateway_and_lets_out_only_dns(settings) -> None:
    settings.KSERVE_GATEWAY_NAMESPACE = "portal"
    policy = KServeTarget().render_network_policy(NAME, CONFIG)

    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["name"] == NAME
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"serving.kserve.io/inferenceservice": NAME}}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "portal"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlops-portal"}},
                }
            ]
        }
    ]
    (dns,) = spec["egress"]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert dns["to"] == [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    ]


def test_the_object_store_the_model_comes_from_may_be_let_out_by_cidr(settings) -> None:
    settings.KSERVE_EGRESS_CIDRS = ["10.20.0.0/16"]

    egress = KServeTarget().render_network_policy(NAME, CONFIG)["spec"]["egress"]

    assert egress[1] == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}


def test_create_fences_the_predictor_with_its_network_policy_before_the_service_exists() -> None:
    cluster = RecordedKubernetes("networkpolicy-create-201", "create-201")

    kserve_target(cluster).create_deployment(NAME, MODEL_URI, config=CONFIG)

    policy, service = cluster.requests
    assert policy["method"] == "POST"
    assert policy["path"] == "/apis/networking.k8s.io/v1/namespaces/portal-models/networkpolicies"
    assert policy["body"]["spec"]["podSelector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": NAME
    }
    assert policy["body"]["metadata"]["labels"]["mlops-portal/deployment-id"] == "41"
    assert service["path"].endswith("/inferenceservices")
    model = service["body"]["spec"]["predictor"]["model"]
    assert model["securityContext"]["readOnlyRootFilesystem"] is True


def test_an_unknown_instance_type_is_refused_with_the_known_ones() -> None:
    with pytest.raises(TargetError, match=r"no instance type 'tpu\.v5'.*cpu\.small"):
        KServeTarget().render_inference_service(
            NAME, MODEL_URI, {**CONFIG, "instance_type": "tpu.v5"}
        )


def test_a_model_uri_kserve_cannot_fetch_is_refused_with_what_to_pass() -> None:
    with pytest.raises(
        TargetError, match=r"cannot fetch the model from 'mlflow-artifacts:/7/.*s3://"
    ):
        KServeTarget().render_inference_service(
            NAME, "mlflow-artifacts:/7/3f9c2b/artifacts/model", CONFIG
        )


def test_create_posts_the_manifest_and_reports_pending() -> None:
    cluster = RecordedKubernetes("networkpolicy-create-201", "create-201")

    created = kserve_target(cluster).create_deployment(NAME, MODEL_URI, config=CONFIG)

    assert created["name"] == NAME
    assert created["state"] == TargetState.PENDING
    assert created["url"] == ""
    sent = cluster.requests[1]
    assert sent["method"] == "POST"
    assert (
        sent["path"] == "/apis/serving.kserve.io/v1beta1/namespaces/portal-models/inferenceservices"
    )
    assert sent["body"]["spec"]["predictor"]["model"]["storageUri"] == MODEL_URI
    assert (
        sent["body"]["spec"]["predictor"]["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    )


def test_a_created_service_is_pending_until_kserve_reports_it_ready_with_its_url() -> None:
    cluster = RecordedKubernetes(
        "networkpolicy-create-201", "create-201", "get-pending", "get-ready"
    )
    target = kserve_target(cluster)

    target.create_deployment(NAME, MODEL_URI, config=CONFIG)
    starting = target.get_deployment(NAME)
    ready = target.get_deployment(NAME)

    assert starting["state"] == TargetState.PENDING
    assert starting["url"] == ""
    assert "waiting for a Revision to become ready" in starting["message"]
    assert ready["state"] == TargetState.READY
    assert ready["url"] == "http://acme-churn-r2.portal-models.models.acme.internal"
    assert ready["message"] == "The InferenceService is ready."
    assert [r["method"] for r in cluster.requests] == ["POST", "POST", "GET", "GET"]


def test_a_failed_condition_is_reported_with_its_message() -> None:
    target = kserve_target(RecordedKubernetes("get-failed"))

    failed = target.get_deployment(NAME)

    assert failed["state"] == TargetState.FAILED
    assert failed["url"] == ""
    assert "No module named 'lightgbm'" in failed["message"]


def test_deleting_a_service_that_is_already_gone_is_not_an_error() -> None:
    cluster = RecordedKubernetes("delete-404", "networkpolicy-delete-404")

    kserve_target(cluster).delete_deployment("acme-churn-r1")

    assert [r["method"] for r in cluster.requests] == ["DELETE", "DELETE"]
    assert cluster.requests[0]["path"].endswith("/inferenceservices/acme-churn-r1")
    assert cluster.requests[1]["path"] == (
        "/apis/networking.k8s.io/v1/namespaces/portal-models/networkpolicies/acme-churn-r1"
    )


def test_reading_a_missing_service_raises_target_not_found() -> None:
    recording = json.loads((RECORDED / "delete-404.json").read_text())
    recording["request"] = {
        "method": "GET",
        "path": "/apis/serving.kserve.io/v1beta1/namespaces/portal-models/inferenceservices/acme-churn-r1",
    }
    cluster = RecordedKubernetes()
    cluster.recordings = [recording]

    with pytest.raises(TargetNotFound, match="does not exist"):
        kserve_target(cluster).get_deployment("acme-churn-r1")


def test_a_forbidden_answer_becomes_a_sentence_about_the_service_account() -> None:
    target = kserve_target(RecordedKubernetes("networkpolicy-create-201", "create-403"))

    with pytest.raises(TargetError) as raised:
        target.create_deployment(NAME, MODEL_URI, config=CONFIG)

    message = raised.value.detail
    assert message.startswith(
        "Kubernetes did not allow the portal to create the InferenceService 'acme-churn-r2' "
        "in namespace 'portal-models'"
    )
    assert "give its service account access" in message
    assert "cannot create resource" in message
    assert "HTTP response headers" not in message
    assert not isinstance(raised.value, TargetNotFound)


def test_list_asks_only_for_the_portals_services() -> None:
    cluster = RecordedKubernetes("list")

    listed = kserve_target(cluster).list_deployments()

    assert [(d["name"], d["state"]) for d in listed] == [
        ("acme-churn-r2", TargetState.READY),
        ("bravo-upsell-r1", TargetState.PENDING),
    ]
    assert cluster.requests[0]["query"] == (
        "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmlops-portal"
    )


def test_get_target_builds_the_kserve_target_with_injected_clients() -> None:
    cluster = RecordedKubernetes("get-ready")
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://kubernetes.test"
    api_client = kubernetes.client.ApiClient(configuration)
    api_client.rest_client.pool_manager = cluster

    target = get_target("kserve", api_client=api_client)

    assert isinstance(target, KServeTarget)
    assert target.get_deployment(NAME)["state"] == TargetState.READY


class RecordedInferenceServer:
    """An HTTP session that answers one Open Inference Protocol request."""

    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.answer = answer
        self.status = status
        self.sent: list[tuple[str, Any]] = []

    def post(self, url: str, json: Any, timeout: float) -> Any:
        self.sent.append((url, json))
        answer, status = self.answer, self.status

        class Response:
            status_code = status
            text = __import__("json").dumps(answer)

            @staticmethod
            def json() -> Any:
                return answer

        return Response()


def test_predict_sends_a_dataframe_as_v2_columns_to_the_service_url() -> None:
    server = RecordedInferenceServer(
        {
            "model_name": NAME,
            "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 0]}],
        }
    )
    target = kserve_target(RecordedKubernetes("get-ready"))
    target._http = server

    answer = target.predict(
        NAME,
        {"dataframe_split": {"columns": ["tenure", "plan"], "data": [[3, "pro"], [40, "free"]]}},
    )

    assert answer == {"predictions": [1, 0]}
    url, body = server.sent[0]
    assert url == f"http://acme-churn-r2.portal-models.models.acme.internal/v2/models/{NAME}/infer"
    assert body == {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "tenure", "shape": [2], "datatype": "INT64", "data": [3, 40]},
            {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["pro", "free"]},
        ],
    }


def test_predict_on_a_service_that_is_not_ready_says_so() -> None:
    target = kserve_target(RecordedKubernetes("get-pending"))

    with pytest.raises(TargetError, match="is not ready to answer yet"):
        target.predict(NAME, {"instances": [[1, 2]]})


def test_instances_become_one_tensor_with_their_shape() -> None:
    request = v2_request({"instances": [[1.5, 2.0], [3.0, 4.5]]})

    assert request == {
        "inputs": [
            {"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [1.5, 2.0, 3.0, 4.5]}
        ]
    }


def test_without_the_kserve_extra_the_target_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)

    with pytest.raises(TargetError, match=r"pip install 'mlops-portal\[kserve\]'"):
        KServeTarget().get_deployment(NAME)


@pytest.fixture
def mlflow_store(tmp_path: Path) -> tuple[str, str]:
    """A tracking store whose experiment keeps artifacts in S3, and one run in it."""
    from mlflow import MlflowClient

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.create_experiment("churn", artifact_location="s3://acme-models/mlflow/7")
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    return tracking_uri, run.info.run_id


def test_a_runs_uri_is_served_from_its_artifact_location(mlflow_store: tuple[str, str]) -> None:
    tracking_uri, run_id = mlflow_store
    target = KServeTarget(tracking_uri=tracking_uri)

    manifest = target.render_inference_service(NAME, f"runs:/{run_id}/model", CONFIG)

    assert manifest["spec"]["predictor"]["model"]["storageUri"] == (
        f"s3://acme-models/mlflow/7/{run_id}/artifacts/model"
    )


def test_a_registered_version_is_served_from_its_artifact_location(
    mlflow_store: tuple[str, str],
) -> None:
    from mlflow import MlflowClient

    tracking_uri, run_id = mlflow_store
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model("acme-churn")
    client.create_model_version("acme-churn", source=f"runs:/{run_id}/model", run_id=run_id)

    manifest = KServeTarget(tracking_uri=tracking_uri).render_inference_service(
        NAME, "models:/acme-churn/1", CONFIG
    )

    assert manifest["spec"]["predictor"]["model"]["storageUri"] == (
        f"s3://acme-models/mlflow/7/{run_id}/artifacts/model"
    )


def test_a_model_mlflow_does_not_know_is_refused_with_a_sentence(
    mlflow_store: tuple[str, str],
) -> None:
    tracking_uri, _ = mlflow_store

    with pytest.raises(TargetError, match="MLflow could not say where the model"):
        KServeTarget(tracking_uri=tracking_uri).render_inference_service(
            NAME, "models:/acme-missing/4", CONFIG
        )
