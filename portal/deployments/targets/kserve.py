"""KServe on Kubernetes: every revision is one ``InferenceService`` served by KServe's MLflow runtime.

The manifest names the MLflow model format with the Open Inference Protocol (v2), fetches the
model from ``storageUri`` (object storage or a PVC: KServe's storage initializer cannot read
``models:/`` or ``runs:/`` URIs, so those are resolved to their artifact location through the
portal's MLflow server first), sizes the predictor from the portal's instance type and scales
between ``replicas`` and twice that. Objects
live in ``settings.KSERVE_NAMESPACE`` and carry labels naming the tenant, the deployment and the
revision, so ``list_deployments`` finds the portal's services and nobody else's.

A model's code is not trusted, so its predictor is fenced: it runs as a non-root user on a
read-only root filesystem (a writable ``/tmp`` of its own), without privilege escalation, with
every capability dropped, the runtime's default seccomp profile and no service account token;
and each revision gets a ``NetworkPolicy``, created before its ``InferenceService``, that lets in
only the portal's gateway pods (``app.kubernetes.io/name=mlops-portal`` in
``KSERVE_GATEWAY_NAMESPACE``) and lets out only DNS (and ``KSERVE_EGRESS_CIDRS``, where the
storage initializer must fetch the model from object storage). KServe's MLflow
runtime serves every model through its ``python_function`` flavor, so ``flavor`` is not used.

The Kubernetes client comes from the optional ``kserve`` extra and is imported on first use; the
configuration is the pod's service account when running in a cluster, else ``KUBECONFIG``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
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

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
POLICY_GROUP, POLICY_VERSION, POLICY_PLURAL = "networking.k8s.io", "v1", "networkpolicies"
# KServe's own label on an InferenceService's pods.
LABEL_INFERENCE_SERVICE = "serving.kserve.io/inferenceservice"
LABEL_APP_NAME = "app.kubernetes.io/name"
PORTAL_APP = "mlops-portal"
# The predictor's user: not root, and what MLServer's images run as.
PREDICTOR_UID = 1000
POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": PREDICTOR_UID,
    "runAsGroup": PREDICTOR_UID,
    "fsGroup": PREDICTOR_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": PREDICTOR_UID,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
}
MANAGED_BY = "mlops-portal"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_TENANT = "mlops-portal/tenant"
LABEL_DEPLOYMENT = "mlops-portal/deployment-id"
LABEL_REVISION = "mlops-portal/revision"
ANNOTATION_INSTANCE_TYPE = "mlops-portal/instance-type"

# Where KServe's storage initializer can fetch a model from.
STORAGE_SCHEMES = {"s3", "gs", "pvc", "https", "hdfs", "webhdfs", "oci", "hf"}

# Ready=False with one of these reasons will not fix itself; any other reason is still rolling out.
FAILURE_REASONS = {
    "RevisionFailed",
    "ContainerMissing",
    "ProgressDeadlineExceeded",
    "ModelLoadFailed",
    "RuntimeUnhealthy",
    "RuntimeDisabled",
    "NoSupportingRuntime",
    "RuntimeNotRecognized",
    "InvalidPredictorSpec",
    "InvalidWorkerSpecNotSet",
    "InvalidGPUAllocation",
}
FAILED_TRANSITIONS = {"BlockedByFailedLoad", "InvalidSpec"}


@dataclass(frozen=True)
class Resources:
    cpu: str
    memory: str
    gpus: int = 0

    def as_requirements(self) -> dict[str, dict[str, str]]:
        amounts = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            amounts["nvidia.com/gpu"] = str(self.gpus)
        # Requests equal limits: the pod gets the Guaranteed class and chargeback's hour is real.
        return {"requests": dict(amounts), "limits": dict(amounts)}


# The portal's instance types (chargeback/default_prices.yaml) in Kubernetes resources.
INSTANCE_TYPES: dict[str, Resources] = {
    "cpu.small": Resources(cpu="2", memory="4Gi"),
    "cpu.medium": Resources(cpu="2", memory="8Gi"),
    "cpu.large": Resources(cpu="4", memory="16Gi"),
    "gpu.t4": Resources(cpu="4", memory="16Gi", gpus=1),
    "gpu.a10": Resources(cpu="4", memory="16Gi", gpus=1),
    "gpu.a100": Resources(cpu="8", memory="64Gi", gpus=1),
}


def _label_value(value: Any) -> str:
    """Kubernetes label values: at most 63 letters, digits, '-', '_' or '.', alphanumeric ends."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(value))[:63]
    return text.strip("-_.")


class KServeTarget(DeploymentTarget):
    kind = "kserve"

    def __init__(
        self,
        *,
        api_client: Any = None,
        custom_objects_api: Any = None,
        namespace: str | None = None,
        http_session: Any = None,
        timeout_seconds: float = 30.0,
        tracking_uri: str | None = None,
    ) -> None:
        self.namespace = namespace or settings.KSERVE_NAMESPACE
        self.tracking_uri = tracking_uri or settings.MLFLOW_TRACKING_URI
        self.timeout_seconds = timeout_seconds
        self._api_client = api_client
        self._custom_objects = custom_objects_api
        self._http = http_session

    # --- the manifest ------------------------------------------------------------------------

    def render_inference_service(
        self, name: str, model_uri: str, config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``InferenceService`` that serves ``model_uri`` under ``name``."""
        config = config or {}
        instance_type = str(config.get("instance_type") or "cpu.small")
        replicas = replica_count(config.get("replicas", 1))
        labels = {LABEL_MANAGED_BY: MANAGED_BY, **_portal_labels(config)}
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "InferenceService",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": {ANNOTATION_INSTANCE_TYPE: instance_type},
            },
            "spec": {
                "predictor": {
                    "minReplicas": replicas,
                    "maxReplicas": max(replicas, 2 * replicas),
                    "labels": labels,
                    "automountServiceAccountToken": False,
                    "securityContext": json.loads(json.dumps(POD_SECURITY)),
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "model": {
                        "modelFormat": {"name": "mlflow"},
                        "protocolVersion": "v2",
                        "storageUri": _storage_uri(self._located(model_uri)),
                        "resources": _resources(instance_type).as_requirements(),
                        "securityContext": json.loads(json.dumps(CONTAINER_SECURITY)),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                    },
                }
            },
        }

    def render_network_policy(
        self, name: str, config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``NetworkPolicy`` of the InferenceService ``name``'s pods: in, only the portal's
        gateway; out, only DNS and ``KSERVE_EGRESS_CIDRS``."""
        dns = {
            "to": [
                {
                    "namespaceSelector": {},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
        egress = [dns]
        if settings.KSERVE_EGRESS_CIDRS:
            egress.append({"to": [{"ipBlock": {"cidr": c}} for c in settings.KSERVE_EGRESS_CIDRS]})
        return {
            "apiVersion": f"{POLICY_GROUP}/{POLICY_VERSION}",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {LABEL_MANAGED_BY: MANAGED_BY, **_portal_labels(config or {})},
            },
            "spec": {
                "podSelector": {"matchLabels": {LABEL_INFERENCE_SERVICE: name}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": (
                                            settings.KSERVE_GATEWAY_NAMESPACE
                                        )
                                    }
                                },
                                "podSelector": {"matchLabels": {LABEL_APP_NAME: PORTAL_APP}},
                            }
                        ]
                    }
                ],
                "egress": egress,
            },
        }

    # --- DeploymentTarget --------------------------------------------------------------------

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        manifest = self.render_inference_service(name, model_uri, config)
        api = self._api()
        # The fence first: the predictor's pods never run without it.
        self._apply_network_policy(api, self.render_network_policy(name, config))
        try:
            created = self._call(
                f"create the InferenceService '{name}'",
                api.create_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                manifest,
                conflict_ok=True,
            )
        except _AlreadyExists:
            # A retried rollout finds its own service: bring it to the requested spec.
            created = self._call(
                f"update the InferenceService '{name}'",
                api.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                name,
                {"metadata": manifest["metadata"], "spec": manifest["spec"]},
            )
        return self.describe(created)

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        config = config or {}
        model: dict[str, Any] = {}
        predictor: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        if model_uri:
            model["storageUri"] = _storage_uri(self._located(model_uri))
        if config.get("instance_type"):
            instance_type = str(config["instance_type"])
            model["resources"] = _resources(instance_type).as_requirements()
            metadata["annotations"] = {ANNOTATION_INSTANCE_TYPE: instance_type}
        if config.get("replicas") is not None:
            replicas = replica_count(config["replicas"])
            predictor.update(minReplicas=replicas, maxReplicas=max(replicas, 2 * replicas))
        if labels := _portal_labels(config):
            metadata["labels"] = labels
            predictor["labels"] = labels
        if model:
            predictor["model"] = model
        patch: dict[str, Any] = {"spec": {"predictor": predictor}} if predictor else {}
        if metadata:
            patch["metadata"] = metadata
        if not patch:
            return self.get_deployment(name)
        updated = self._call(
            f"update the InferenceService '{name}'",
            self._api().patch_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            patch,
        )
        return self.describe(updated)

    def delete_deployment(self, name: str, config: dict[str, Any] | None = None) -> None:
        api = self._api()
        for kind, group, version, plural in (
            ("InferenceService", GROUP, VERSION, PLURAL),
            ("NetworkPolicy", POLICY_GROUP, POLICY_VERSION, POLICY_PLURAL),
        ):
            # Deleting what is already gone is not an error.
            with contextlib.suppress(TargetNotFound):
                self._call(
                    f"delete the {kind} '{name}'",
                    api.delete_namespaced_custom_object,
                    group,
                    version,
                    self.namespace,
                    plural,
                    name,
                )

    def get_deployment(self, name: str) -> dict[str, Any]:
        found = self._call(
            f"read the InferenceService '{name}'",
            self._api().get_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
        )
        return self.describe(found)

    def list_deployments(self) -> list[dict[str, Any]]:
        found = self._call(
            "list the portal's InferenceServices",
            self._api().list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            label_selector=f"{LABEL_MANAGED_BY}={MANAGED_BY}",
        )
        return [self.describe(item) for item in found.get("items", [])]

    def predict(self, deployment_name: str, inputs: Any) -> Any:
        """Send a scoring-protocol payload to the service's Open Inference Protocol endpoint."""
        current = self.get_deployment(deployment_name)
        if current["state"] != TargetState.READY or not current["url"]:
            raise TargetError(
                f"The InferenceService '{deployment_name}' is not ready to answer yet: "
                f"{current['message']}"
            )
        url = f"{current['url'].rstrip('/')}/v2/models/{deployment_name}/infer"
        body = v2_request(inputs)
        session = self._session()
        try:
            response = session.post(url, json=body, timeout=self.timeout_seconds)
        except Exception as error:  # requests raises many kinds; all mean "no answer"
            raise TargetError(
                f"The InferenceService '{deployment_name}' could not be reached at {url}: {error}."
            ) from error
        if response.status_code >= 400:
            raise TargetError(
                f"The InferenceService '{deployment_name}' refused the prediction "
                f"(HTTP {response.status_code}): {_error_text(response.text)}"
            )
        try:
            answer = response.json()
        except ValueError as error:
            raise TargetError(
                f"The InferenceService '{deployment_name}' answered something that is not JSON."
            ) from error
        return v2_predictions(answer)

    # --- status ------------------------------------------------------------------------------

    def describe(self, service: dict[str, Any]) -> dict[str, Any]:
        """``get_deployment``'s answer for one ``InferenceService`` object."""
        metadata = service.get("metadata") or {}
        spec = service.get("spec") or {}
        predictor = spec.get("predictor") or {}
        status = service.get("status") or {}
        state, message = service_state(status)
        return {
            "name": metadata.get("name", ""),
            "state": state,
            "url": (status.get("url") or "") if state == TargetState.READY else "",
            "message": message,
            "namespace": metadata.get("namespace", self.namespace),
            "model_uri": (predictor.get("model") or {}).get("storageUri", ""),
            "instance_type": (metadata.get("annotations") or {}).get(ANNOTATION_INSTANCE_TYPE, ""),
            "replicas": predictor.get("minReplicas"),
            "labels": metadata.get("labels") or {},
        }

    # --- plumbing ----------------------------------------------------------------------------

    def _apply_network_policy(self, api: Any, policy: dict[str, Any]) -> None:
        name = policy["metadata"]["name"]
        try:
            self._call(
                f"create the NetworkPolicy '{name}'",
                api.create_namespaced_custom_object,
                POLICY_GROUP,
                POLICY_VERSION,
                self.namespace,
                POLICY_PLURAL,
                policy,
                conflict_ok=True,
            )
        except _AlreadyExists:
            self._call(
                f"update the NetworkPolicy '{name}'",
                api.patch_namespaced_custom_object,
                POLICY_GROUP,
                POLICY_VERSION,
                self.namespace,
                POLICY_PLURAL,
                name,
                {"metadata": policy["metadata"], "spec": policy["spec"]},
            )

    def _api(self) -> Any:
        if self._custom_objects is not None:
            return self._custom_objects
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError as error:
            raise TargetError(
                "The kserve target needs the 'kserve' extra: pip install 'mlops-portal[kserve]'."
            ) from error
        if self._api_client is None:
            configuration = client.Configuration()
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException:
                try:
                    config.load_kube_config(client_configuration=configuration)
                except (ConfigException, OSError) as error:
                    raise TargetError(
                        "The kserve target found no Kubernetes configuration: run the portal in "
                        "the cluster with a service account, or set KUBECONFIG."
                    ) from error
            self._api_client = client.ApiClient(configuration)
        self._custom_objects = client.CustomObjectsApi(self._api_client)
        return self._custom_objects

    def _located(self, model_uri: str) -> str:
        return artifact_location(model_uri, tracking_uri=self.tracking_uri)

    def _session(self) -> Any:
        if self._http is None:
            import requests

            self._http = requests.Session()
        return self._http

    def _call(
        self, what: str, function: Any, *args: Any, conflict_ok: bool = False, **kwargs: Any
    ) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return function(*args, **kwargs)
        except ApiException as error:
            status = int(error.status or 0)
            reason = _api_message(error)
            if status == 404:
                raise TargetNotFound(
                    f"Kubernetes could not {what} in namespace '{self.namespace}': it does not exist."
                ) from error
            if status == 409 and conflict_ok:
                raise _AlreadyExists(reason) from error
            if status in (401, 403):
                raise TargetError(
                    f"Kubernetes did not allow the portal to {what} in namespace "
                    f"'{self.namespace}'; give its service account access to InferenceServices "
                    f"there ({reason})."
                ) from error
            if status in (400, 409, 422):
                raise TargetError(f"Kubernetes refused to {what}: {reason}") from error
            raise TargetError(
                f"Kubernetes could not {what} (HTTP {status or 'no answer'}): {reason}"
            ) from error
        except HTTPError as error:
            raise TargetError(
                f"The Kubernetes API could not be reached to {what}: {error}."
            ) from error


class _AlreadyExists(TargetError):
    status_code = 409
    code = "target_conflict"


def service_state(status: dict[str, Any]) -> tuple[TargetState, str]:
    """The portal's state and a sentence for an ``InferenceService``'s ``.status``."""
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    stopped = conditions.get("Stopped")
    if stopped and stopped.get("status") == "True":
        return TargetState.STOPPED, "The InferenceService is stopped."
    model_status = status.get("modelStatus") or {}
    failure = model_status.get("lastFailureInfo") or {}
    if model_status.get("transitionStatus") in FAILED_TRANSITIONS:
        detail = failure.get("message") or failure.get("reason") or model_status["transitionStatus"]
        return TargetState.FAILED, f"The model could not be loaded: {detail}"
    ready = conditions.get("Ready")
    if ready is None:
        return TargetState.PENDING, "KServe has not reported on the InferenceService yet."
    if ready.get("status") == "True":
        return TargetState.READY, "The InferenceService is ready."
    reason, message = _not_ready_cause(ready, conditions)
    if ready.get("status") == "False" and reason in FAILURE_REASONS:
        return TargetState.FAILED, message or f"KServe reports {reason}."
    return TargetState.PENDING, message or "The InferenceService is starting."


def _not_ready_cause(
    ready: dict[str, Any], conditions: dict[Any, dict[str, Any]]
) -> tuple[str, str]:
    """The reason and message that explain Ready not being True, from Ready or the condition
    behind it (KServe often copies only the reason up to Ready)."""
    if ready.get("message"):
        return str(ready.get("reason") or ""), str(ready["message"])
    for kind, condition in conditions.items():
        if kind != "Ready" and condition.get("status") != "True" and condition.get("message"):
            return str(condition.get("reason") or ready.get("reason") or ""), str(
                condition["message"]
            )
    return str(ready.get("reason") or ""), ""


def v2_request(inputs: Any) -> dict[str, Any]:
    """An Open Inference Protocol request for an MLflow scoring payload.

    ``dataframe_split`` and ``dataframe_records`` become one input per column, decoded by the
    MLflow runtime as a pandas frame; ``instances`` and tensor ``inputs`` become one tensor;
    a payload that already is a v2 request passes unchanged.
    """
    if isinstance(inputs, str):
        inputs = json.loads(inputs)
    if not isinstance(inputs, dict):
        raise TargetError(
            "A prediction needs a JSON object with dataframe_split, dataframe_records, "
            "instances or inputs."
        )
    tensors = inputs.get("inputs")
    if (
        isinstance(tensors, list)
        and tensors
        and all(isinstance(t, dict) and "name" in t and "data" in t for t in tensors)
    ):
        return inputs
    columns: dict[str, list[Any]] | None = None
    if "dataframe_split" in inputs:
        frame = inputs["dataframe_split"] or {}
        names = [str(c) for c in frame.get("columns") or []]
        rows = frame.get("data") or []
        if not names and rows:
            names = [str(i) for i in range(len(rows[0]))]
        columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    elif "dataframe_records" in inputs:
        records = inputs["dataframe_records"] or []
        names = list(dict.fromkeys(key for record in records for key in record))
        columns = {name: [record.get(name) for record in records] for name in names}
    if columns is not None:
        return {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {
                    "name": name,
                    "shape": [len(values)],
                    "datatype": _datatype(values),
                    "data": values,
                }
                for name, values in columns.items()
            ],
        }
    for key in ("instances", "inputs"):
        if key in inputs:
            data = inputs[key]
            flat = _flatten(data)
            return {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": _shape(data),
                        "datatype": _datatype(flat),
                        "data": flat,
                    }
                ]
            }
    raise TargetError("A prediction needs dataframe_split, dataframe_records, instances or inputs.")


def v2_predictions(answer: dict[str, Any]) -> dict[str, Any]:
    """The scoring protocol's ``{"predictions": ...}`` for an Open Inference Protocol answer."""
    outputs = answer.get("outputs") or []
    if len(outputs) == 1:
        return {"predictions": _reshape(outputs[0].get("data") or [], outputs[0].get("shape"))}
    return {
        "predictions": {
            str(output.get("name")): _reshape(output.get("data") or [], output.get("shape"))
            for output in outputs
        }
    }


def _datatype(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "BOOL"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "INT64"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "FP64"
    return "BYTES"


def _shape(data: Any) -> list[int]:
    shape: list[int] = []
    while isinstance(data, list):
        shape.append(len(data))
        data = data[0] if data else None
    return shape


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    for item in data:
        flat.extend(_flatten(item))
    return flat


def _reshape(data: list[Any], shape: Any) -> list[Any]:
    if not isinstance(shape, list) or len(shape) < 2 or shape[-1] == 1:
        return list(data)
    width = int(shape[-1])
    rows = [data[i : i + width] for i in range(0, len(data), width)]
    return _reshape(rows, shape[:-1]) if len(shape) > 2 else rows


def _storage_uri(model_uri: str) -> str:
    scheme = urlparse(model_uri).scheme.lower()
    if scheme not in STORAGE_SCHEMES:
        raise TargetError(
            f"KServe cannot fetch the model from '{model_uri}': the model's artifacts must live "
            "in object storage (s3://, gs://, https://) or a volume (pvc://); an MLflow server "
            "that proxies artifacts (mlflow-artifacts:) needs a direct artifact root for KServe."
        )
    return model_uri


def artifact_location(model_uri: str, *, tracking_uri: str) -> str:
    """Where a ``models:/`` or ``runs:/`` URI's files are stored; other URIs are returned as
    they are. KServe's storage initializer reads that location, never the MLflow server."""
    location = model_uri
    for _ in range(3):  # a version's source may itself be a runs:/ or models:/ URI
        if urlparse(location).scheme not in ("models", "runs"):
            break
        location = _resolve_once(location, tracking_uri=tracking_uri)
    return location


def _resolve_once(model_uri: str, *, tracking_uri: str) -> str:
    parsed = urlparse(model_uri)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    path = model_uri.split(":/", 1)[1].lstrip("/")
    try:
        if parsed.scheme == "runs":
            run_id, _, inner = path.partition("/")
            root = client.get_run(run_id).info.artifact_uri.rstrip("/")
            return f"{root}/{inner}" if inner else root
        if path.startswith("m-") and "/" not in path:
            return str(client.get_logged_model(path).artifact_location)
        name, _, version = path.rpartition("/")
        if "@" in path and not name:
            name, _, alias = path.partition("@")
            version = client.get_model_version_by_alias(name, alias).version
        return str(client.get_model_version_download_uri(name, version))
    except MlflowException as error:
        raise TargetError(
            f"MLflow could not say where the model '{model_uri}' is stored: "
            f"{str(error.message).splitlines()[0]}"
        ) from error


def _resources(instance_type: str) -> Resources:
    try:
        return INSTANCE_TYPES[instance_type]
    except KeyError:
        known = ", ".join(sorted(INSTANCE_TYPES))
        raise TargetError(
            f"KServe has no instance type '{instance_type}'; use one of {known}."
        ) from None


def _portal_labels(config: dict[str, Any]) -> dict[str, str]:
    labels = {}
    for key, label in (
        ("tenant", LABEL_TENANT),
        ("deployment_id", LABEL_DEPLOYMENT),
        ("revision", LABEL_REVISION),
    ):
        if config.get(key) not in (None, ""):
            labels[label] = _label_value(config[key])
    return labels


def _api_message(error: Any) -> str:
    """The sentence in a Kubernetes ``Status`` body, or the HTTP reason."""
    body = getattr(error, "body", None)
    if body:
        try:
            status = json.loads(body)
        except (TypeError, ValueError):
            status = None
        if isinstance(status, dict) and status.get("message"):
            return str(status["message"]).rstrip(".") + "."
    return f"{getattr(error, 'reason', None) or 'no reason given'}."


def _error_text(text: str) -> str:
    try:
        detail = json.loads(text)
    except ValueError:
        detail = None
    if isinstance(detail, dict) and detail.get("error"):
        return str(detail["error"])
    return text[:300] or "no detail given."
