"""Baselines: built once per model version from a data frame (an uploaded file, the dataset
the run logged, or the deployment's first captured rows) and kept as a compact profile."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction

from portal.catalog.models import ModelVersion
from portal.core.audit import Actor, audit_record
from portal.core.errors import InvalidRequest
from portal.core.urls_safety import check_artifact_uri
from portal.deployments.models import Deployment
from portal.monitoring import engine, profiles
from portal.monitoring.models import Baseline, BaselineSource, BaselineStatus
from portal.monitoring.store import WindowSpec, capture_window_sample


def baseline_from_frame(
    *,
    version: ModelVersion,
    frame: pd.DataFrame,
    source: str,
    detail: str,
    actor: Actor,
) -> Baseline:
    """Profile ``frame`` as the version's baseline (replacing any earlier one)."""
    if frame.empty:
        raise InvalidRequest("The data has no rows; a baseline needs at least one row.")
    frame = frame.rename(columns=str)
    keep = profiles.monitored_columns(frame, version.signature)
    specs = profiles.column_specs(frame, signature=version.signature, keep=keep)
    if not specs:
        raise InvalidRequest(
            "None of the file's columns is an input of the model's signature; upload the data "
            "the model was trained on, with its column names."
        )
    sketch = settings.BASELINE_SKETCH_SIZE or None
    try:
        reference = engine.reference_profile(frame, specs, sketch_size=sketch)
    except ValueError as error:
        raise InvalidRequest(f"The data could not be profiled: {error}.") from None
    data = profiles.profile_dump(reference)
    names = [spec.name for spec in specs]
    with transaction.atomic():
        baseline, _ = Baseline.objects.select_for_update().get_or_create(
            tenant_id=version.tenant_id,
            model_version=version,
            defaults={"source": source, "created_by_label": actor.label},
        )
        before = {"source": baseline.source, "rows": baseline.rows, "status": baseline.status}
        baseline.source, baseline.source_detail = source, detail[:1024]
        baseline.status, baseline.error = BaselineStatus.READY, ""
        baseline.rows = reference.rows
        baseline.columns = profiles.summary_columns(reference)
        baseline.prediction_columns = profiles.prediction_names(names)
        baseline.profile, baseline.profile_bytes = data, len(data)
        baseline.created_by_label = actor.label
        baseline.save()
        audit_record(
            actor=actor,
            action="baseline.built",
            object_type="baseline",
            object_id=baseline.pk,
            tenant_id=version.tenant_id,
            before=before if baseline.rows else None,
            after={
                "model_version": version.pk,
                "source": source,
                "rows": baseline.rows,
                "columns": names,
            },
        )
    return baseline


def baseline_from_upload(
    *, version: ModelVersion, content: bytes, filename: str, prediction_column: str, actor: Actor
) -> Baseline:
    frame = profiles.read_data_file(content, name=filename)
    frame = profiles.rename_prediction(frame, prediction_column)
    return baseline_from_frame(
        version=version, frame=frame, source=BaselineSource.UPLOAD, detail=filename, actor=actor
    )


def _training_dataset(version: ModelVersion) -> dict[str, str]:
    datasets = [d for d in version.datasets or [] if isinstance(d, dict) and d.get("source")]
    if not datasets:
        raise InvalidRequest(
            "The run of this version logged no dataset with mlflow.log_input; upload the training "
            "data as a file instead."
        )
    training = [d for d in datasets if d.get("context") == "training"]
    chosen = (training or datasets)[0]
    check_artifact_uri(str(chosen["source"]))
    return chosen


def _unit_dataset_folders(version: ModelVersion) -> list[Path]:
    """Where ``version``'s unit keeps its datasets: ``<root>/<unit slug>/`` in each root, so a run
    can never name a file of another unit (or one shared by all, in a root itself)."""
    return [Path(root).resolve() / version.tenant.slug for root in settings.BASELINE_DATASET_ROOTS]


def _local_dataset_path(source: str, *, version: ModelVersion) -> Path | None:
    """The file a local source names, if it lies in the unit's own folder of one of
    ``BASELINE_DATASET_ROOTS``."""
    raw = source.removeprefix("file://")
    if "://" in raw or not raw.startswith("/"):
        return None
    path = Path(raw).resolve()
    folders = _unit_dataset_folders(version)
    for folder in folders:
        if path.is_relative_to(folder):
            return path
    allowed = " or ".join(f"{folder}/" for folder in folders)
    raise InvalidRequest(
        f"The dataset's source {source} is outside this unit's dataset folder ({allowed}); "
        "put the file there or upload it instead."
    )


def check_logged_dataset(*, version: ModelVersion) -> None:
    """Refuse at once (before queueing a build) a dataset source the portal cannot read."""
    source = _training_dataset(version)["source"]
    if _local_dataset_path(source, version=version) is None and not source.startswith(
        ("runs:/", "mlflow-artifacts:", "models:/")
    ):
        raise InvalidRequest(
            f"The dataset's source {source} is not a local file or an MLflow artifact the portal "
            "can read; upload the training data as a file instead."
        )


def baseline_from_dataset(
    *, version: ModelVersion, actor: Actor, prediction_column: str = ""
) -> Baseline:
    """Build from the dataset the run logged, when its source is a readable local or artifact
    path. A dataset in S3 or a table somewhere else is not read: upload it instead."""
    from portal.catalog.mlflow_adapter import MlflowRegistry

    dataset = _training_dataset(version)
    source = dataset["source"]
    limit = settings.BASELINE_UPLOAD_MAX_BYTES
    local = _local_dataset_path(source, version=version)
    if local is not None:
        if not local.is_file():
            raise InvalidRequest(f"The dataset's source {source} is not a readable file.")
        if local.stat().st_size > limit:
            raise InvalidRequest(f"The dataset is larger than the baseline limit of {limit} bytes.")
        content = local.read_bytes()
    elif source.startswith(("runs:/", "mlflow-artifacts:", "models:/")):
        content = MlflowRegistry().read_artifact_bytes(source, max_bytes=limit)
    else:
        raise InvalidRequest(
            f"The dataset's source {source} is not a local file or an MLflow artifact the portal "
            "can read; upload the training data as a file instead."
        )
    frame = profiles.read_data_file(content, name=source)
    frame = profiles.rename_prediction(frame, prediction_column)
    return baseline_from_frame(
        version=version,
        frame=frame,
        source=BaselineSource.DATASET,
        detail=f"{dataset.get('name', '')} {source}".strip(),
        actor=actor,
    )


class TooFewRows(InvalidRequest):
    """Fewer rows are captured than a baseline from traffic takes."""


def baseline_from_capture(
    *, deployment: Deployment, actor: Actor, rows: int | None = None, all_rows: bool = False
) -> Baseline:
    """Build from the deployment's first ``rows`` captured rows (``BASELINE_FROM_CAPTURE_ROWS``);
    with ``all_rows``, only once that many are captured (``TooFewRows`` before)."""
    rows = rows or settings.BASELINE_FROM_CAPTURE_ROWS
    frame = capture_window_sample(WindowSpec(deployment.pk, deployment.tenant_id), rows=rows)
    if all_rows and len(frame) < rows:
        raise TooFewRows(
            f"it is built from the first {rows} captured rows, and {len(frame)} of the {rows} "
            "captured rows are in so far"
        )
    if frame.empty:
        raise InvalidRequest(
            "This deployment has no captured traffic yet; send some predictions first."
        )
    return baseline_from_frame(
        version=deployment.model_version,
        frame=frame,
        source=BaselineSource.CAPTURE,
        detail=f"first {len(frame)} rows of deployment {deployment.name} r{deployment.revision}",
        actor=actor,
    )


def baseline_record_failure(
    *, version: ModelVersion, source: str, error: str, actor: Actor
) -> None:
    """Keep a visible failure on the version's baseline when a background build gives up."""
    baseline, created = Baseline.objects.get_or_create(
        tenant_id=version.tenant_id,
        model_version=version,
        defaults={"source": source, "created_by_label": actor.label, "status": "failed"},
    )
    if created or baseline.status != BaselineStatus.READY:
        baseline.status, baseline.error = BaselineStatus.FAILED, error[:2000]
        baseline.save(update_fields=["status", "error", "updated_at"])
