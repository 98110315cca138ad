"""The one place that talks to the MLflow registry and tracking API.

Everything else in the portal sees plain dataclasses and the portal's own errors:
``MlflowUnavailable`` (down, slow, 5xx: worth retrying), ``MlflowNotFound`` and
``MlflowRejected`` (MLflow refused the request). Every call has a timeout and no hidden retries;
the callers (Celery tasks) own retry and backoff.

No model is ever loaded here. A version's model files are downloaded into a temporary folder and
hashed in chunks (``portal.catalog.digests``): the manifest of their SHA-256 hashes and sizes, and
the manifest's own digest (the artifact digest approvals are bound to). The ``MLmodel`` file
(YAML, parsed with ``safe_load``, capped in size) gives the signature.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from portal.catalog.digests import Manifest, manifest_digest, manifest_of_folder, manifest_size
from portal.core.errors import PortalError

# MLflow reads these per request; the portal wants fast failure and its own retries.
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings.MLFLOW_TIMEOUT_SECONDS)
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

TENANT_TAG = "portal.tenant"
MLMODEL_MAX_BYTES = 1024 * 1024
PAGE_SIZE = 1000
VERSIONS_PAGE_SIZE = 10000
NAMES_PER_CALL = 100
# The portal's one registry webhook in MLflow and what it is sent for (portal.catalog.webhooks).
WEBHOOK_NAME = "mlops-portal"
REGISTRY_EVENTS = (
    ("registered_model", "created"),
    ("model_version", "created"),
    ("model_version_tag", "set"),
    ("model_version_tag", "deleted"),
    ("model_version_alias", "created"),
    ("model_version_alias", "deleted"),
)


class MlflowUnavailable(PortalError):
    status_code = 503
    code = "mlflow_unavailable"


class MlflowNotFound(PortalError):
    status_code = 404
    code = "not_found"


class MlflowRejected(PortalError):
    status_code = 400
    code = "mlflow_rejected"


@dataclass(frozen=True)
class MlflowModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    created_ms: int | None
    updated_ms: int | None
    latest_version: int | None = None


@dataclass(frozen=True)
class MlflowVersion:
    name: str
    version: int
    run_id: str
    source: str
    status: str
    description: str
    tags: dict[str, str]
    aliases: list[str]
    created_ms: int | None
    updated_ms: int | None


@dataclass(frozen=True)
class MlflowExperiment:
    name: str
    tags: dict[str, str]


@dataclass
class VersionDetails:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    datasets: list[dict[str, str]] = field(default_factory=list)
    signature: dict | None = None
    artifact_size_bytes: int | None = None
    artifact_digest: str = ""
    artifact_manifest: Manifest = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


_pool: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _calls() -> concurrent.futures.ThreadPoolExecutor:
    """This process's pool of MLflow calls (made anew in a forked worker, whose parent's threads
    did not come along)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            workers = settings.MLFLOW_CONCURRENT_CALLS
            _pool = (os.getpid(), concurrent.futures.ThreadPoolExecutor(workers, "mlflow-call"))
        return _pool[1]


@dataclass(frozen=True)
class ArtifactFiles:
    manifest: Manifest
    mlmodel_text: str


def _translate(error: Exception, what: str) -> PortalError:
    if isinstance(error, RestException | MlflowException):
        code = getattr(error, "error_code", "")
        message = getattr(error, "message", str(error))
        if code == "RESOURCE_DOES_NOT_EXIST":
            return MlflowNotFound(f"MLflow has no {what}.")
        if code in {
            "INVALID_PARAMETER_VALUE",
            "RESOURCE_ALREADY_EXISTS",
            "INVALID_STATE",
            "PERMISSION_DENIED",
        }:
            return MlflowRejected(f"MLflow refused to {what}: {message}")
        return MlflowUnavailable(f"MLflow could not {what}: {_first_line(message)}")
    return MlflowUnavailable(f"MLflow could not {what}: {_first_line(str(error))}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no answer"


class MlflowRegistry:
    """A client of one MLflow tracking server."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or settings.MLFLOW_TRACKING_URI
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def _call(
        self, what: str, function: Any, *args: Any, deadline: float | None = None, **kwargs: Any
    ) -> Any:
        """``function(*args, **kwargs)`` with MLflow's errors translated, ended by a deadline.

        MLflow's client bounds each read (``MLFLOW_TIMEOUT_SECONDS``), not the call, so a server
        that trickles its answer could hold the caller (a Celery slot, a request) for as long as it
        likes. The call runs on a thread of a small pool and the caller waits at most ``deadline``
        seconds (``MLFLOW_DEADLINE_SECONDS`` unless given); past it, the caller gets
        ``MlflowUnavailable`` and the abandoned call ends on its own at its next read timeout.
        """
        seconds = settings.MLFLOW_DEADLINE_SECONDS if deadline is None else deadline
        future = _calls().submit(function, *args, **kwargs)
        try:
            return future.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise MlflowUnavailable(
                f"MLflow could not {what}: it did not answer in full within {seconds:g} seconds "
                "(MLFLOW_DEADLINE_SECONDS)."
            ) from None
        except Exception as error:
            raise _translate(error, what) from error

    # --- registered models ----------------------------------------------------------------------

    def search_models(self, *, filter_string: str = "") -> Iterator[MlflowModel]:
        """Every registered model matching the MLflow filter, page by page."""
        token = None
        while True:
            page = self._call(
                "list registered models",
                self.client.search_registered_models,
                filter_string=filter_string or None,
                max_results=PAGE_SIZE,
                page_token=token,
            )
            for model in page:
                yield _model(model)
            token = page.token
            if not token:
                return

    def models_of_tenant(self, *, slug: str, name_prefix: str = "") -> Iterator[MlflowModel]:
        """Models tagged for the tenant, plus untagged ones under its name prefix."""
        seen = set()
        for model in self.search_models(filter_string=f"tags.`{TENANT_TAG}` = '{_quote(slug)}'"):
            seen.add(model.name)
            yield model
        if name_prefix:
            for model in self.search_models(filter_string=f"name LIKE '{_quote(name_prefix)}%'"):
                if model.name not in seen and model.tags.get(TENANT_TAG, slug) == slug:
                    yield model

    def get_model(self, name: str) -> MlflowModel:
        return _model(
            self._call(f"find registered model '{name}'", self.client.get_registered_model, name)
        )

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self._call(
            f"tag registered model '{name}'", self.client.set_registered_model_tag, name, key, value
        )

    # --- the registry webhook -------------------------------------------------------------------

    def point_webhook(self, *, url: str, secret: str) -> str:
        """Point MLflow's registry webhook for the portal (``WEBHOOK_NAME``, the events of
        ``REGISTRY_EVENTS``) at ``url``, signed with ``secret``: created once, updated after.
        Answers ``created`` or ``updated``. Needs MLflow 3.3+ with a SQL backend."""
        from mlflow.entities.webhook import WebhookEvent

        events = [WebhookEvent(entity, action) for entity, action in REGISTRY_EVENTS]
        existing = [
            hook
            for hook in self._call("list its webhooks", self.client.list_webhooks)
            if hook.name == WEBHOOK_NAME
        ]
        if existing:
            self._call(
                "update the portal's webhook",
                self.client.update_webhook,
                existing[0].webhook_id,
                url=url,
                secret=secret,
                events=events,
            )
            return "updated"
        self._call(
            "create the portal's webhook",
            self.client.create_webhook,
            name=WEBHOOK_NAME,
            url=url,
            events=events,
            secret=secret,
            description="Registry events for the MLOps portal's catalog",
        )
        return "created"

    # --- versions -------------------------------------------------------------------------------

    def versions(self, name: str, aliases: dict[str, int] | None = None) -> list[MlflowVersion]:
        by_version = _aliases_by_version(aliases or {})
        found = self._search_versions(f"name = '{_quote(name)}'", f"list versions of '{name}'")
        return sorted((_version(v, by_version) for v in found), key=lambda v: v.version)

    def versions_of_models(self, models: list[MlflowModel]) -> dict[str, list[MlflowVersion]]:
        """Versions of several models, read in batches (``name IN (...)``) where MLflow allows it."""
        result: dict[str, list[MlflowVersion]] = {m.name: [] for m in models}
        aliases = {m.name: _aliases_by_version(m.aliases) for m in models}
        for start in range(0, len(models), NAMES_PER_CALL):
            batch = models[start : start + NAMES_PER_CALL]
            names = ", ".join(f"'{_quote(m.name)}'" for m in batch)
            try:
                found = self._search_versions(f"name IN ({names})", "list model versions")
            except MlflowRejected:  # a store without IN support: one call per model
                for model in batch:
                    result[model.name] = self.versions(model.name, model.aliases)
                continue
            for version in found:
                if version.name in result:
                    result[version.name].append(_version(version, aliases[version.name]))
        return {name: sorted(found, key=lambda v: v.version) for name, found in result.items()}

    def _search_versions(self, filter_string: str, what: str) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = self._call(
                what,
                self.client.search_model_versions,
                filter_string=filter_string,
                max_results=VERSIONS_PAGE_SIZE,
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    def create_version(
        self, *, name: str, source: str, run_id: str, tenant_slug: str
    ) -> MlflowVersion:
        """Register ``source`` as a new version of ``name``, creating the model (tagged) if needed."""
        try:
            self.client.get_registered_model(name)
        except Exception as error:
            translated = _translate(error, f"find registered model '{name}'")
            if not isinstance(translated, MlflowNotFound):
                raise translated from error
            self._call(
                f"create registered model '{name}'",
                self.client.create_registered_model,
                name,
                tags={TENANT_TAG: tenant_slug},
            )
        created = self._call(
            f"register a version of '{name}'",
            self.client.create_model_version,
            name=name,
            source=source,
            run_id=run_id or None,
            model_id=source.removeprefix("models:/") if source.startswith("models:/") else None,
        )
        return _version(created, {})

    def logged_model_run(self, model_id: str) -> str:
        """The run a logged model came from (MLflow 3)."""
        logged = self._call(
            f"find logged model '{model_id}'", self.client.get_logged_model, model_id
        )
        return logged.source_run_id or ""

    def logged_model_of_run(self, run_id: str, name: str) -> str | None:
        """The id of the model ``name`` that run ``run_id`` logged (MLflow 3), or None."""
        run = self._call(f"find run '{run_id}'", self.client.get_run, run_id)
        found = self._call(
            f"find the models of run '{run_id}'",
            self.client.search_logged_models,
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{_quote(run_id)}' AND name = '{_quote(name)}'",
            max_results=1,
        )
        return found[0].model_id if found else None

    def experiment_of(self, *, run_id: str = "", logged_model_id: str = "") -> MlflowExperiment:
        """The experiment a run (or a logged model) was recorded in: two GETs, each with the short
        ``MLFLOW_CHECK_TIMEOUT_SECONDS``, because a web request waits on them.

        ``MlflowNotFound`` when MLflow has no such run or logged model, or will not show it to the
        portal's credential; the caller cannot tell those apart, and neither can its caller.
        """
        if logged_model_id:
            found = self._check("logged-models/" + logged_model_id, {})
            experiment_id = found.get("model", {}).get("info", {}).get("experiment_id")
        else:
            found = self._check("runs/get", {"run_id": run_id})
            experiment_id = found.get("run", {}).get("info", {}).get("experiment_id")
        if not experiment_id:
            raise MlflowNotFound("MLflow has no such run.")
        experiment = self._check("experiments/get", {"experiment_id": experiment_id})["experiment"]
        return MlflowExperiment(
            name=experiment.get("name", ""),
            tags={t["key"]: t.get("value", "") for t in experiment.get("tags", [])},
        )

    def _check(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._call(
                "check the run",
                http_request,
                get_default_host_creds(self.tracking_uri),
                f"/api/2.0/mlflow/{endpoint}",
                "GET",
                params=params,
                timeout=settings.MLFLOW_CHECK_TIMEOUT_SECONDS,
                max_retries=0,
                deadline=2 * settings.MLFLOW_CHECK_TIMEOUT_SECONDS,
            )
        except PortalError as error:
            raise MlflowUnavailable(str(error.detail)) from error
        if response.status_code in (400, 403, 404):
            raise MlflowNotFound("MLflow has no such run.")
        if response.status_code != 200:
            raise MlflowUnavailable(f"MLflow could not check the run: HTTP {response.status_code}")
        return response.json()

    def run_artifact_root(self, run_id: str) -> str:
        run = self._call(f"find run '{run_id}'", self.client.get_run, run_id)
        return run.info.artifact_uri

    def download_model(self, *, source: str, dst_path: str) -> str:
        """Copy a version's model files (its MLflow ``source``) into ``dst_path``; the local path.

        Only the serving runtime calls this: it hands the folder to a model server process that
        never sees the tracking server's address or any portal secret.
        """
        artifact_uri = self._artifact_uri(source)
        if not artifact_uri:
            raise MlflowRejected(f"The model source {source!r} has no readable artifact location.")
        return self._call(
            "download the model",
            mlflow.artifacts.download_artifacts,
            artifact_uri=artifact_uri,
            dst_path=dst_path,
            tracking_uri=self.tracking_uri,
            deadline=settings.MLFLOW_DOWNLOAD_DEADLINE_SECONDS,
        )

    # --- details of one version -----------------------------------------------------------------

    def version_details(self, *, run_id: str, source: str) -> VersionDetails:
        """Run metrics, params and dataset lineage, the signature, artifact size and digest."""
        details = VersionDetails()
        if run_id:
            try:
                run = self._call(f"read run '{run_id}'", self.client.get_run, run_id)
            except MlflowNotFound:
                details.problems.append(f"run {run_id} no longer exists in MLflow")
            else:
                details.metrics = dict(run.data.metrics)
                details.params = dict(run.data.params)
                details.datasets = [
                    _dataset(d) for d in (run.inputs.dataset_inputs if run.inputs else [])
                ]
        try:
            artifact_uri = self._artifact_uri(source)
        except MlflowNotFound:
            artifact_uri = ""
        if artifact_uri:
            manifest, text = self._manifest(artifact_uri)
            details.artifact_manifest = manifest
            details.artifact_size_bytes = manifest_size(manifest)
            details.artifact_digest = manifest_digest(manifest) if manifest else ""
            details.signature = _signature(text)
            if not manifest:
                details.problems.append(f"the source {source!r} holds no files")
        else:
            details.problems.append(f"the source {source!r} has no readable artifact location")
        return details

    def artifact_files(self, *, source: str) -> ArtifactFiles:
        """The manifest of a version's model files as MLflow serves them now, and the text of its
        ``MLmodel`` file (deep syncs)."""
        artifact_uri = self._artifact_uri(source)
        if not artifact_uri:
            raise MlflowRejected(f"The model source {source!r} has no readable artifact location.")
        return ArtifactFiles(*self._manifest(artifact_uri))

    def _manifest(self, artifact_uri: str) -> tuple[Manifest, str]:
        """Download the model's files into a temporary folder and hash them; the manifest and the
        (capped) text of its ``MLmodel`` file. A folder MLflow lists as empty is not downloaded."""
        if not self._list_files(artifact_uri):
            return {}, ""
        with tempfile.TemporaryDirectory(prefix="portal-digest-") as folder:
            path = Path(
                self._call(
                    "download the model files",
                    mlflow.artifacts.download_artifacts,
                    artifact_uri=artifact_uri,
                    dst_path=folder,
                    tracking_uri=self.tracking_uri,
                    deadline=settings.MLFLOW_DOWNLOAD_DEADLINE_SECONDS,
                )
            )
            manifest = manifest_of_folder(path)
            mlmodel = next(
                (
                    name
                    for name, entry in manifest.items()
                    if name.rsplit("/", 1)[-1] == "MLmodel"
                    and int(entry["size"]) <= MLMODEL_MAX_BYTES
                ),
                None,
            )
            text = (path / mlmodel).read_text(encoding="utf-8", errors="replace") if mlmodel else ""
        return manifest, text

    def _artifact_uri(self, source: str) -> str:
        if source.startswith("models:/m-"):
            model_id = source.removeprefix("models:/").split("/", 1)[0]
            logged = self._call(
                f"read logged model '{model_id}'", self.client.get_logged_model, model_id
            )
            return logged.artifact_location
        if source.startswith("runs:/"):
            run_id, _, path = source.removeprefix("runs:/").partition("/")
            logged = self.logged_model_of_run(run_id, path) if path else None
            if logged is not None:  # MLflow 3 keeps a run's model outside the run's artifacts
                return self._artifact_uri(f"models:/{logged}")
            return self.run_artifact_root(run_id).rstrip("/") + (f"/{path}" if path else "")
        return source if "://" in source or source.startswith("mlflow-artifacts:") else ""

    def read_artifact_bytes(self, source: str, *, max_bytes: int) -> bytes:
        """The content of one artifact file (a dataset logged with the run, say), refused with
        ``MlflowRejected`` when it is a folder or larger than ``max_bytes``."""
        uri = self._artifact_uri(source)
        if not uri:
            raise MlflowRejected(f"read {source}: it is not an MLflow artifact")
        parent, _, name = uri.rstrip("/").rpartition("/")
        entries = self._call(
            f"list {source}",
            mlflow.artifacts.list_artifacts,
            artifact_uri=parent,
            tracking_uri=self.tracking_uri,
        )
        entry = next((e for e in entries if e.path.rsplit("/", 1)[-1] == name), None)
        if entry is None or entry.is_dir:
            raise MlflowRejected(f"read {source}: it is not a file in the artifact store")
        if int(entry.file_size or 0) > max_bytes:
            raise MlflowRejected(f"read {source}: it is larger than {max_bytes} bytes")
        with tempfile.TemporaryDirectory() as folder:
            path = self._call(
                f"read {source}",
                mlflow.artifacts.download_artifacts,
                artifact_uri=uri,
                dst_path=folder,
                tracking_uri=self.tracking_uri,
            )
            return Path(path).read_bytes()[:max_bytes]

    def _list_files(self, artifact_uri: str) -> list[tuple[str, int]]:
        files: list[tuple[str, int]] = []
        pending = [""]
        while pending:
            prefix = pending.pop()
            uri = artifact_uri.rstrip("/") + (f"/{prefix}" if prefix else "")
            for entry in self._call(
                "list model files",
                mlflow.artifacts.list_artifacts,
                artifact_uri=uri,
                tracking_uri=self.tracking_uri,
            ):
                name = entry.path.rsplit("/", 1)[-1]
                relative = f"{prefix}/{name}" if prefix else name
                if entry.is_dir:
                    pending.append(relative)
                else:
                    files.append((relative, int(entry.file_size or 0)))
        return files


def _aliases_by_version(aliases: dict[str, int]) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for alias, number in aliases.items():
        by_version.setdefault(int(number), []).append(alias)
    return by_version


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


def _model(model: Any) -> MlflowModel:
    latest = [int(v.version) for v in (model.latest_versions or [])]
    return MlflowModel(
        name=model.name,
        description=model.description or "",
        tags=dict(model.tags or {}),
        aliases={alias: int(number) for alias, number in (model.aliases or {}).items()},
        created_ms=model.creation_timestamp,
        updated_ms=model.last_updated_timestamp,
        latest_version=max(latest) if latest else None,
    )


def _version(version: Any, aliases_by_version: dict[int, list[str]]) -> MlflowVersion:
    number = int(version.version)
    return MlflowVersion(
        name=version.name,
        version=number,
        run_id=version.run_id or "",
        source=version.source or "",
        status=version.status or "READY",
        description=version.description or "",
        tags=dict(version.tags or {}),
        aliases=sorted(aliases_by_version.get(number, version.aliases or [])),
        created_ms=version.creation_timestamp,
        updated_ms=version.last_updated_timestamp,
    )


def _dataset(dataset_input: Any) -> dict[str, str]:
    dataset = dataset_input.dataset
    context = next((t.value for t in dataset_input.tags if t.key == "mlflow.data.context"), "")
    try:
        source = json.loads(dataset.source).get("uri") or dataset.source
    except (TypeError, ValueError, AttributeError):
        source = dataset.source
    return {
        "name": dataset.name,
        "digest": dataset.digest,
        "source": str(source),
        "source_type": dataset.source_type,
        "context": context,
    }


def _signature(mlmodel_text: str) -> dict | None:
    if not mlmodel_text:
        return None
    import yaml

    try:
        document = yaml.safe_load(mlmodel_text) or {}
    except yaml.YAMLError:
        return None
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict):
        return None
    result = {}
    for part in ("inputs", "outputs", "params"):
        raw = signature.get(part)
        if raw:
            try:
                result[part] = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                result[part] = raw
    return result or None
