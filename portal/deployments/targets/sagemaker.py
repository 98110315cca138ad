"""Amazon SageMaker: every revision is one SageMaker endpoint, made by MLflow's SageMaker client.

``mlflow.sagemaker.SageMakerDeploymentClient`` (target ``sagemaker:/<region>``) packs the model
into S3, creates the SageMaker model, endpoint configuration and endpoint, and serves the model
through its ``python_function`` flavor in MLflow's serving image (``settings.SAGEMAKER_IMAGE_URL``,
or the account's ``mlflow-pyfunc`` ECR repository when empty) under
``settings.SAGEMAKER_EXECUTION_ROLE_ARN`` (or the caller's own role when empty).

Creating and updating return as soon as SageMaker accepted the request: the endpoint is
``pending`` until SageMaker reports it ``InService``, and the rollout polls ``get_deployment``.
Deleting waits for the endpoint to go and then removes its models and configuration. Registry
URIs (``models:/``, ``runs:/``, ``mlflow-artifacts:``) are fetched from the portal's MLflow
server first; S3 and local paths go to MLflow as they are.

boto3 comes from the optional ``sagemaker`` extra and is imported on first use.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlparse

from django.conf import settings

from portal.deployments.targets.base import (
    DeploymentTarget,
    TargetError,
    TargetNotFound,
    TargetState,
    replica_count,
)

# The portal's instance types (chargeback/default_prices.yaml prices them like these).
INSTANCE_TYPES: dict[str, str] = {
    "cpu.small": "ml.c5.large",
    "cpu.medium": "ml.m5.large",
    "cpu.large": "ml.m5.xlarge",
    "gpu.t4": "ml.g4dn.xlarge",
    "gpu.a10": "ml.g5.xlarge",
    "gpu.a100": "ml.p4d.24xlarge",
}
PENDING_STATUSES = {"Creating", "Updating", "SystemUpdating", "RollingBack"}
FAILED_STATUSES = {"Failed", "UpdateRollbackFailed", "OutOfService"}
REGISTRY_SCHEMES = {"models", "runs", "mlflow-artifacts"}
TAG_PREFIX = "mlops-portal:"
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
}


def sagemaker_instance_type(instance_type: str) -> str:
    """The SageMaker instance type for a portal instance type; ``ml.*`` names pass through."""
    if instance_type.startswith("ml."):
        return instance_type
    try:
        return INSTANCE_TYPES[instance_type]
    except KeyError:
        known = ", ".join(sorted(INSTANCE_TYPES))
        raise TargetError(
            f"SageMaker has no instance type '{instance_type}'; use one of {known}, "
            "or a SageMaker name such as ml.m5.large."
        ) from None


class SageMakerTarget(DeploymentTarget):
    kind = "sagemaker"

    def __init__(
        self,
        *,
        region: str | None = None,
        execution_role_arn: str | None = None,
        image_url: str | None = None,
        tracking_uri: str | None = None,
        delete_timeout_seconds: int = 600,
    ) -> None:
        self.region = region or settings.SAGEMAKER_REGION
        self.execution_role_arn = (
            settings.SAGEMAKER_EXECUTION_ROLE_ARN
            if execution_role_arn is None
            else execution_role_arn
        )
        self.image_url = settings.SAGEMAKER_IMAGE_URL if image_url is None else image_url
        self.tracking_uri = tracking_uri or settings.MLFLOW_TRACKING_URI
        self.delete_timeout_seconds = delete_timeout_seconds

    # --- DeploymentTarget --------------------------------------------------------------------

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        client = self._client()
        try:
            return self.get_deployment(name)  # a retried rollout finds its endpoint
        except TargetNotFound:
            pass
        deploy_config = self.deploy_config(config or {})
        with ExitStack() as stack:
            source = self._fetchable(model_uri, stack)
            self._call(
                f"create the endpoint '{name}'",
                client.create_deployment,
                name,
                source,
                flavor="python_function",
                config=deploy_config,
            )
        return self.get_deployment(name)

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        config = config or {}
        if model_uri is None:
            if config.get("instance_type"):
                raise TargetError(
                    "SageMaker changes an endpoint's instance type only together with its "
                    "model: pass the model URI as well."
                )
            if config.get("replicas") is not None:
                self._scale(name, replica_count(config["replicas"]))
            return self.get_deployment(name)
        client = self._client()
        deploy_config = {**self.deploy_config(config), "mode": "replace"}
        with ExitStack() as stack:
            source = self._fetchable(model_uri, stack)
            self._call(
                f"update the endpoint '{name}'",
                client.update_deployment,
                name,
                source,
                flavor="python_function",
                config=deploy_config,
            )
        return self.get_deployment(name)

    def delete_deployment(self, name: str, config: dict[str, Any] | None = None) -> None:
        client = self._client()
        try:
            self._call(
                f"delete the endpoint '{name}'",
                client.delete_deployment,
                name,
                config={
                    "region_name": self.region,
                    "synchronous": True,
                    "archive": False,
                    "timeout_seconds": self.delete_timeout_seconds,
                },
            )
        except TargetNotFound:
            return

    def get_deployment(self, name: str) -> dict[str, Any]:
        endpoint = self._call(f"read the endpoint '{name}'", self._client().get_deployment, name)
        return self.describe(endpoint)

    def list_deployments(self) -> list[dict[str, Any]]:
        endpoints = self._call("list the endpoints", self._client().list_deployments)
        return [self.describe(endpoint) for endpoint in endpoints]

    def predict(self, deployment_name: str, inputs: Any) -> Any:
        """Invoke the endpoint with a scoring-protocol payload; answers ``{"predictions": ...}``."""
        body = inputs if isinstance(inputs, str) else json.dumps(inputs)
        answer = self._call(
            f"get predictions from the endpoint '{deployment_name}'",
            self._client().predict,
            deployment_name,
            body,
        )
        return dict(answer)

    # --- helpers -----------------------------------------------------------------------------

    def deploy_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The configuration MLflow's SageMaker client gets for the portal's ``config``."""
        tags = {
            f"{TAG_PREFIX}{key.replace('_', '-')}": str(config[key])
            for key in ("tenant", "deployment_id", "revision", "environment")
            if config.get(key) not in (None, "")
        }
        deploy: dict[str, Any] = {
            "region_name": self.region,
            "instance_type": sagemaker_instance_type(
                str(config.get("instance_type") or "cpu.small")
            ),
            "instance_count": replica_count(config.get("replicas", 1)),
            # Return once SageMaker accepted the request; the rollout polls get_deployment.
            "synchronous": False,
            "archive": True,
            "tags": tags,
        }
        if self.execution_role_arn:
            deploy["execution_role_arn"] = self.execution_role_arn
        if self.image_url:
            deploy["image_url"] = self.image_url
        if config.get("bucket"):
            deploy["bucket"] = str(config["bucket"])
        return deploy

    def describe(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        """``get_deployment``'s answer for a DescribeEndpoint or ListEndpoints entry."""
        name = str(endpoint.get("EndpointName", ""))
        status = str(endpoint.get("EndpointStatus", ""))
        state, message = endpoint_state(status, str(endpoint.get("FailureReason") or ""))
        variants = endpoint.get("ProductionVariants") or []
        return {
            "name": name,
            "state": state,
            "url": self.invocation_url(name) if state == TargetState.READY else "",
            "message": message,
            "endpoint_status": status,
            "endpoint_arn": endpoint.get("EndpointArn", ""),
            "replicas": sum(int(v.get("CurrentInstanceCount") or 0) for v in variants) or None,
        }

    def invocation_url(self, name: str) -> str:
        return f"https://runtime.sagemaker.{self.region}.amazonaws.com/endpoints/{name}/invocations"

    def _client(self) -> Any:
        try:
            import boto3  # noqa: F401 (the extra this target needs)
        except ImportError as error:
            raise TargetError(
                "The sagemaker target needs the 'sagemaker' extra: "
                "pip install 'mlops-portal[sagemaker]'."
            ) from error
        from mlflow.sagemaker import SageMakerDeploymentClient

        return SageMakerDeploymentClient(f"sagemaker:/{self.region}")

    def _fetchable(self, model_uri: str, stack: ExitStack) -> str:
        """A URI MLflow's SageMaker client can read without knowing the portal's MLflow server."""
        if urlparse(model_uri).scheme not in REGISTRY_SCHEMES:
            return model_uri
        import mlflow.artifacts

        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="sagemaker-model-"))
        try:
            return str(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=model_uri, dst_path=folder, tracking_uri=self.tracking_uri
                )
            )
        except Exception as error:  # MLflow raises many kinds for a missing or unreachable model
            raise TargetError(
                f"The model '{model_uri}' could not be fetched from MLflow: {_first_line(error)}"
            ) from error

    def _scale(self, name: str, replicas: int) -> None:
        import boto3

        sagemaker = boto3.client("sagemaker", region_name=self.region)
        endpoint = self._call(
            f"read the endpoint '{name}'", sagemaker.describe_endpoint, EndpointName=name
        )
        self._call(
            f"scale the endpoint '{name}'",
            sagemaker.update_endpoint_weights_and_capacities,
            EndpointName=name,
            DesiredWeightsAndCapacities=[
                {"VariantName": variant["VariantName"], "DesiredInstanceCount": replicas}
                for variant in endpoint.get("ProductionVariants") or []
            ],
        )

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except TargetError:
            raise
        except Exception as error:
            raise self._translate(error, what) from error

    def _translate(self, error: Exception, what: str) -> TargetError:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        cause = _aws_cause(error, (ClientError, BotoCoreError))
        if isinstance(cause, ClientError):
            code = str(cause.response.get("Error", {}).get("Code", ""))
            detail = str(cause.response.get("Error", {}).get("Message", "")) or code
            if code == "ValidationException" and "could not find endpoint" in detail.lower():
                return TargetNotFound(
                    f"SageMaker could not {what} in {self.region}: it does not exist."
                )
            if code in DENIED_CODES:
                return TargetError(
                    f"AWS did not allow the portal to {what} in {self.region}; give its role "
                    f"the SageMaker permissions ({detail.rstrip('.')})."
                )
            return TargetError(f"SageMaker refused to {what}: {detail.rstrip('.')}.")
        if isinstance(cause, NoCredentialsError):
            return TargetError(
                f"The portal has no AWS credentials to {what}; give the worker a role or "
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        if isinstance(cause, EndpointConnectionError):
            return TargetError(f"SageMaker in {self.region} could not be reached to {what}.")
        return TargetError(f"SageMaker could not {what}: {_first_line(error)}")


def endpoint_state(status: str, failure_reason: str = "") -> tuple[TargetState, str]:
    """The portal's state and a sentence for a SageMaker ``EndpointStatus``."""
    if status == "InService":
        return TargetState.READY, "The SageMaker endpoint is in service."
    if status in PENDING_STATUSES:
        return TargetState.PENDING, f"SageMaker reports the endpoint as {status}."
    if status in FAILED_STATUSES:
        reason = failure_reason.rstrip(".") or "SageMaker gave no reason"
        return TargetState.FAILED, f"The SageMaker endpoint is {status}: {reason}."
    if status == "Deleting":
        return TargetState.STOPPED, "SageMaker is deleting the endpoint."
    return TargetState.PENDING, f"SageMaker reports the endpoint as {status or 'unknown'}."


def _aws_cause(
    error: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The AWS error behind ``error``; MLflow re-raises them as ``MlflowException``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", "") or error).strip()
    return (text.splitlines() or [type(error).__name__])[0]
