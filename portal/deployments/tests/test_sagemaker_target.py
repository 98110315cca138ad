"""The SageMaker target through MLflow's SageMaker client, against moto's in-process AWS.

``mock_aws`` answers every boto3 call MLflow makes (STS, S3 upload, SageMaker model, endpoint
configuration and endpoint, SageMaker runtime), so nothing leaves the process. moto puts a new
endpoint straight into service, so the tests move an endpoint to Creating or Failed through
moto's own backend to see how the target reports those.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

import requests  # noqa: E402 (after the skips when the extra is missing)
from botocore.exceptions import ClientError  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.sagemaker.models import sagemaker_backends  # noqa: E402

from portal.deployments.targets import (  # noqa: E402
    TargetError,
    TargetNotFound,
    TargetState,
    get_target,
    revision_target_name,
)
from portal.deployments.targets.sagemaker import (  # noqa: E402
    SageMakerTarget,
    sagemaker_instance_type,
)

REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/portal-sagemaker"
IMAGE = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/mlflow-pyfunc:3.17.2"
NAME = revision_target_name(tenant="acme", name="churn", revision=2)
CONFIG = {
    "instance_type": "cpu.large",
    "replicas": 2,
    "tenant": "acme",
    "deployment_id": 41,
    "revision": 2,
    "environment": "production",
}


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[None]:
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "MLFLOW_SAGEMAKER_DEPLOY_IMG_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    settings.SAGEMAKER_REGION = REGION
    settings.SAGEMAKER_EXECUTION_ROLE_ARN = ROLE
    settings.SAGEMAKER_IMAGE_URL = IMAGE
    with moto.mock_aws():
        yield


@pytest.fixture
def model_uri(tmp_path: Path) -> str:
    """A model folder as MLflow writes it; SageMaker never loads it here, only packs it."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(
        "artifact_path: model\n"
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        "    model_path: model.skops\n"
        "    python_version: 3.11.9\n"
        "  sklearn:\n"
        "    pickled_model: model.skops\n"
        "    serialization_format: skops\n"
        "mlflow_version: 3.17.2\n"
    )
    (folder / "model.skops").write_bytes(b"not read by these tests")
    return str(folder)


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def endpoint_in_moto(name: str) -> Any:
    return sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[name]


def test_portal_instance_types_map_to_sagemaker_instances() -> None:
    assert sagemaker_instance_type("cpu.small") == "ml.c5.large"
    assert sagemaker_instance_type("cpu.large") == "ml.m5.xlarge"
    assert sagemaker_instance_type("gpu.t4") == "ml.g4dn.xlarge"
    assert sagemaker_instance_type("gpu.a100") == "ml.p4d.24xlarge"


def test_sagemaker_instance_names_pass_through() -> None:
    assert sagemaker_instance_type("ml.inf2.xlarge") == "ml.inf2.xlarge"


def test_an_unknown_instance_type_is_refused_with_the_known_ones() -> None:
    with pytest.raises(TargetError, match=r"no instance type 'tpu\.v5'.*cpu\.small"):
        sagemaker_instance_type("tpu.v5")


def test_settings_choose_the_region_role_and_image() -> None:
    target = SageMakerTarget()

    assert target.region == REGION
    config = target.deploy_config(CONFIG)
    assert config["execution_role_arn"] == ROLE
    assert config["image_url"] == IMAGE
    assert config["region_name"] == REGION


def test_create_makes_a_sagemaker_endpoint_sized_and_tagged_by_the_portal(model_uri: str) -> None:
    created = SageMakerTarget().create_deployment(NAME, model_uri, config=CONFIG)

    assert created["name"] == NAME
    assert created["state"] == TargetState.READY
    assert created["url"] == (
        f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{NAME}/invocations"
    )
    endpoint = sagemaker().describe_endpoint(EndpointName=NAME)
    config = sagemaker().describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.xlarge", 2)
    model = sagemaker().describe_model(ModelName=variant["ModelName"])
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"].startswith("s3://mlflow-sagemaker-")
    tags = {
        t["Key"]: t["Value"]
        for t in sagemaker().list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]
    }
    assert tags["mlops-portal:tenant"] == "acme"
    assert tags["mlops-portal:deployment-id"] == "41"
    assert tags["mlops-portal:revision"] == "2"


def test_an_endpoint_being_created_is_pending(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)
    endpoint_in_moto(NAME).endpoint_status = "Creating"

    starting = target.get_deployment(NAME)

    assert starting["state"] == TargetState.PENDING
    assert starting["url"] == ""
    assert starting["message"] == "SageMaker reports the endpoint as Creating."


def test_a_failed_endpoint_is_reported_with_its_failure_reason(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)
    endpoint = endpoint_in_moto(NAME)
    endpoint.endpoint_status = "Failed"
    endpoint.failure_reason = "The primary container for production variant AllTraffic did not pass the ping health check."

    failed = target.get_deployment(NAME)

    assert failed["state"] == TargetState.FAILED
    assert failed["url"] == ""
    assert "did not pass the ping health check" in failed["message"]


def test_creating_again_finds_the_endpoint_instead_of_failing(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)

    again = target.create_deployment(NAME, model_uri, config=CONFIG)

    assert again["state"] == TargetState.READY
    assert len(sagemaker().list_models()["Models"]) == 1


def test_reading_a_missing_endpoint_raises_target_not_found() -> None:
    with pytest.raises(TargetNotFound, match="does not exist"):
        SageMakerTarget().get_deployment("acme-nothing-r1")


def test_delete_removes_the_endpoint_its_configuration_and_its_model(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)

    target.delete_deployment(NAME)

    assert sagemaker().list_endpoints()["Endpoints"] == []
    assert sagemaker().list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker().list_models()["Models"] == []


def test_deleting_an_endpoint_that_is_already_gone_is_not_an_error() -> None:
    SageMakerTarget().delete_deployment("acme-churn-r1")


def test_scaling_changes_the_instance_count_of_the_endpoint(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)

    scaled = target.update_deployment(NAME, config={"replicas": 3})

    assert scaled["replicas"] == 3
    variant = sagemaker().describe_endpoint(EndpointName=NAME)["ProductionVariants"][0]
    assert variant["DesiredInstanceCount"] == 3


def test_a_new_instance_type_without_a_model_is_refused_with_what_to_pass() -> None:
    with pytest.raises(TargetError, match="pass the model URI as well"):
        SageMakerTarget().update_deployment(NAME, config={"instance_type": "gpu.t4"})


def test_list_reports_every_endpoint_with_its_state(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)

    listed = target.list_deployments()

    assert [(d["name"], d["state"]) for d in listed] == [(NAME, TargetState.READY)]


def test_predict_sends_the_scoring_payload_and_returns_the_predictions(model_uri: str) -> None:
    target = SageMakerTarget()
    target.create_deployment(NAME, model_uri, config=CONFIG)
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={
            "account_id": DEFAULT_ACCOUNT_ID,
            "region": REGION,
            "results": [{"Body": '{"predictions": [1, 0]}', "ContentType": "application/json"}],
        },
        timeout=5,
    )

    answer = target.predict(
        NAME,
        {"dataframe_split": {"columns": ["tenure", "plan"], "data": [[3, "pro"], [40, "free"]]}},
    )

    assert answer == {"predictions": [1, 0]}


def test_a_model_without_the_python_function_flavor_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: model.pkl\n")

    with pytest.raises(TargetError, match="could not create the endpoint 'acme-churn-r2'"):
        SageMakerTarget().create_deployment(NAME, str(folder), config=CONFIG)


def test_access_denied_becomes_a_sentence_about_the_role() -> None:
    denied = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": f"User: arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/portal-worker is not authorized to perform: sagemaker:CreateModel",
            }
        },
        "CreateModel",
    )

    error = SageMakerTarget()._translate(denied, "create the endpoint 'acme-churn-r2'")

    assert error.detail.startswith(
        f"AWS did not allow the portal to create the endpoint 'acme-churn-r2' in {REGION}; "
        "give its role the SageMaker permissions"
    )
    assert "sagemaker:CreateModel" in error.detail


def test_get_target_builds_the_sagemaker_target_with_options() -> None:
    target = get_target("sagemaker", region="us-west-2")

    assert isinstance(target, SageMakerTarget)
    assert target.region == "us-west-2"


def test_without_the_sagemaker_extra_the_target_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)

    with pytest.raises(TargetError, match=r"pip install 'mlops-portal\[sagemaker\]'"):
        SageMakerTarget().get_deployment(NAME)
