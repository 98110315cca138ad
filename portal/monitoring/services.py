"""Monitoring writes: baselines, monitors, drift runs and what a drifting run sets off.

Baselines are built once per model version from a data frame (an uploaded file, the dataset
the run logged, or the deployment's first captured rows) and kept as a compact profile.
A drift run compares a deployment's captured window with its version's baseline, streaming
the window chunk by chunk, and records per-column results and the deployment's drift status.
When a monitor's run drifts, its actions fire once: an alert, an incident, a signed retraining
webhook, and for a high-risk model a request to review the deployment again.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.audit import Actor, apply_updates, audit_record
from governance.services.incidents import incident_open
from portal.catalog.models import ModelVersion, RiskTier
from portal.deployments.models import Deployment, DeploymentState
from portal.deployments.workflow import deployment_review_request
from portal.errors import Conflict, InvalidRequest
from portal.monitoring import engine, profiles
from portal.monitoring.models import (
    ActOn,
    Baseline,
    BaselineSource,
    BaselineStatus,
    DriftLevel,
    DriftRun,
    Monitor,
    RunStatus,
    Window,
)
from portal.monitoring.store import CaptureWindow, WindowSpec, capture_window_sample
from portal.urls_safety import check_artifact_uri
from tenants.notifications import notify

logger = logging.getLogger(__name__)

MONITOR_ACTOR = Actor.system("drift monitor")
PROGRESS_EVERY_SECONDS = 2.0
DRIFT_EVENT = "monitoring.drift_detected"
RETRAIN_EVENT = "monitoring.retraining_requested"
REVIEW_EVENT = "monitoring.review_requested"
MONITORED_STATES = (DeploymentState.LIVE,)


# --- Baselines ------------------------------------------------------------------------------------


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


def baseline_from_capture(
    *, deployment: Deployment, actor: Actor, rows: int | None = None
) -> Baseline:
    rows = rows or settings.BASELINE_FROM_CAPTURE_ROWS
    frame = capture_window_sample(WindowSpec(deployment.pk, deployment.tenant_id), rows=rows)
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


# --- Monitors -------------------------------------------------------------------------------------

MONITOR_FIELDS = (
    "enabled",
    "interval_minutes",
    "window",
    "window_rows",
    "drift_share",
    "column_overrides",
    "act_on",
    "alert_emails",
    "alert",
    "open_incident",
    "retrain_webhook",
    "review_high_risk",
)


def check_overrides(overrides: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(overrides, dict):
        raise InvalidRequest('column_overrides maps column names to {"method", "threshold"}.')
    clean: dict[str, dict[str, Any]] = {}
    for column, override in overrides.items():
        if not isinstance(override, dict) or set(override) - {"method", "threshold"}:
            raise InvalidRequest(f"column_overrides['{column}'] takes only method and threshold.")
        method, threshold = override.get("method"), override.get("threshold")
        if method is not None and method not in engine.METHODS:
            raise InvalidRequest(
                f"column_overrides['{column}']: unknown method {method!r}; use one of "
                f"{', '.join(sorted(engine.METHODS))}."
            )
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
            or threshold < 0
        ):
            raise InvalidRequest(f"column_overrides['{column}']: threshold must be a number >= 0.")
        clean[str(column)] = {
            k: v for k, v in (("method", method), ("threshold", threshold)) if v is not None
        }
    return clean


def _monitor_snapshot(monitor: Monitor) -> dict[str, Any]:
    return {name: getattr(monitor, name) for name in MONITOR_FIELDS}


@transaction.atomic
def monitor_create(*, actor: Actor, tenant_id: int, endpoint: str, **fields: Any) -> Monitor:
    if not Deployment.objects.filter(name=endpoint).exists():
        raise InvalidRequest(f"This tenant has no deployment named '{endpoint}'.")
    if Monitor.objects.filter(endpoint=endpoint).exists():
        raise Conflict(f"'{endpoint}' already has a monitor; change it instead.")
    if "column_overrides" in fields:
        fields["column_overrides"] = check_overrides(fields["column_overrides"])
    monitor = Monitor.objects.create(
        tenant_id=tenant_id,
        endpoint=endpoint,
        created_by_label=actor.label,
        next_run_at=timezone.now(),
        **fields,
    )
    audit_record(
        actor=actor,
        action="monitor.created",
        object_type="monitor",
        object_id=monitor.pk,
        tenant_id=tenant_id,
        after={"endpoint": endpoint, **_monitor_snapshot(monitor)},
    )
    return monitor


@transaction.atomic
def monitor_update(*, actor: Actor, monitor: Monitor, **updates: Any) -> Monitor:
    if "column_overrides" in updates:
        updates["column_overrides"] = check_overrides(updates["column_overrides"])
    monitor = Monitor.objects.select_for_update().get(pk=monitor.pk)
    before, after = apply_updates(
        monitor,
        editable=MONITOR_FIELDS,
        updates=updates,
        refusal="These monitor fields cannot be changed",
    )
    if not after:
        return monitor
    if "interval_minutes" in after or after.get("enabled"):
        monitor.next_run_at = timezone.now()
    monitor.save()
    audit_record(
        actor=actor,
        action="monitor.updated",
        object_type="monitor",
        object_id=monitor.pk,
        tenant_id=monitor.tenant_id,
        before=before,
        after=after,
    )
    return monitor


def monitored_deployments(monitor: Monitor) -> list[Deployment]:
    return list(
        Deployment.objects.select_related("model_version__model").filter(
            name=monitor.endpoint, state__in=MONITORED_STATES, drift_monitor=True
        )
    )


# --- Drift runs -----------------------------------------------------------------------------------


# The hard time limit of ``monitoring.execute_drift_run``: a run still running this long after it
# started has no worker any more (its worker was lost, and a redelivery cannot claim it).
RUN_ABANDONED_AFTER = timedelta(minutes=61)
ABANDONED_ERROR = "The worker running it stopped before it finished; a new run can be requested."


def drift_run_request(
    *, deployment: Deployment, monitor: Monitor | None = None, trigger: str = "schedule"
) -> DriftRun:
    """Queue a run for the deployment (the one already queued or running, if any), enqueued on
    commit. A run abandoned by a lost worker is failed first, so it never blocks new runs."""
    from portal.monitoring import tasks

    abandoned = DriftRun.objects.filter(
        deployment=deployment,
        status=RunStatus.RUNNING,
        started_at__lt=timezone.now() - RUN_ABANDONED_AFTER,
    )
    for run_id in abandoned.values_list("pk", flat=True):
        drift_run_fail(run_id=run_id, error=ABANDONED_ERROR)
    open_run = DriftRun.objects.filter(
        deployment=deployment, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
    ).first()
    if open_run is not None:
        return open_run
    window = monitor.window if monitor else Window.HOUR
    try:
        with transaction.atomic():
            run = DriftRun.objects.create(
                tenant_id=deployment.tenant_id,
                deployment=deployment,
                monitor=monitor,
                trigger=trigger,
                window=window,
                window_rows=monitor.window_rows if monitor and window == Window.ROWS else None,
                share_threshold=monitor.drift_share if monitor else 0.5,
            )
    except IntegrityError:  # another request queued one at the same moment
        return DriftRun.objects.get(
            deployment=deployment, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
        )
    tasks.execute_drift_run.delay_on_commit(tenant_id=deployment.tenant_id, run_id=run.pk)
    return run


def _claim(run_id: int) -> DriftRun | None:
    with transaction.atomic():
        run = DriftRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.QUEUED:
            return None
        run.status, run.started_at = RunStatus.RUNNING, timezone.now()
        run.progress, run.progress_note = 0, "starting"
        run.save(update_fields=["status", "started_at", "progress", "progress_note"])
    return run


def _window_spec(run: DriftRun, now: Any) -> WindowSpec:
    if run.window == Window.ROWS:
        return WindowSpec(run.deployment_id, run.tenant_id, end=now, last_rows=run.window_rows or 1)
    span = timedelta(hours=1) if run.window == Window.HOUR else timedelta(days=1)
    return WindowSpec(run.deployment_id, run.tenant_id, start=now - span, end=now)


def _progress_reporter(run_id: int) -> Any:
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = now
        percent = min(99, int(100 * done / total)) if total else 0
        DriftRun.objects.filter(pk=run_id).update(
            progress=percent, progress_note=f"read {done} of {total} rows"
        )

    return report


def _finish(run: DriftRun, **fields: Any) -> DriftRun:
    for name, value in fields.items():
        setattr(run, name, value)
    run.finished_at, run.progress = timezone.now(), 100
    run.save()
    return run


def _options(run: DriftRun) -> engine.DriftOptions:
    overrides = run.monitor.column_overrides if run.monitor else {}
    return engine.DriftOptions(
        share=run.share_threshold,
        column_overrides={
            name: engine.MethodOverride(method=o.get("method"), threshold=o.get("threshold"))
            for name, o in (overrides or {}).items()
        },
    )


def _column_row(result: engine.ColumnResult) -> dict[str, Any]:
    row = asdict(result)
    row["method_label"] = result.method_label
    row["unseen_examples"] = list(result.unseen_examples)
    for name in ("statistic", "threshold", "statistic_error"):
        value = row.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            row[name] = None
    return row


def drift_run_execute(*, run_id: int) -> DriftRun | None:
    """Run a queued drift run to its end; a run already taken by another worker is left alone."""
    run = _claim(run_id)
    if run is None:
        return DriftRun.objects.filter(pk=run_id).first()
    deployment = Deployment.objects.select_related("model_version__model").get(pk=run.deployment_id)
    baseline = Baseline.objects.filter(
        model_version_id=deployment.model_version_id, status=BaselineStatus.READY
    ).first()
    now = run.started_at or timezone.now()
    spec = _window_spec(run, now)
    run.window_start, run.window_end = spec.start, spec.end
    if baseline is None:
        run = _finish(
            run,
            status=RunStatus.SUCCEEDED,
            drift_status=DriftLevel.UNKNOWN,
            reason=(
                f"Version {deployment.model_version.version} of "
                f"{deployment.model_version.model.name} has no baseline yet: upload one, or "
                "build it from the logged dataset or the first captured rows."
            ),
        )
        return run
    run.baseline, run.reference_rows = baseline, baseline.rows
    try:
        reference = profiles.profile_load(baseline.profile)
        window = CaptureWindow(
            spec,
            columns=[s.name for s in reference.specs],
            on_progress=_progress_reporter(run.pk),
        )
        report = engine.drift_run_chunks(reference, window, options=_options(run))
    except Exception as error:
        logger.exception("Drift run %s failed", run.pk)
        return _finish(
            run,
            status=RunStatus.FAILED,
            drift_status=DriftLevel.UNKNOWN,
            reason=f"The drift run failed: {str(error)[:500]}",
            error=repr(error)[:2000],
        )
    run = _finish(
        run,
        status=RunStatus.SUCCEEDED,
        drift_status=report.status,
        reason=report.reason or "",
        dataset_drift=report.dataset_drift,
        share_drifted=report.share_drifted,
        share_threshold=report.share_threshold,
        current_rows=report.current_rows,
        reference_rows=report.reference_rows,
        columns=[_column_row(column) for column in report.columns],
        drifted_columns=list(report.drifted_columns),
    )
    if run.monitor_id:
        drift_actions_fire(run_id=run.pk)
        run.refresh_from_db()
    return run


def drift_run_fail(*, run_id: int, error: str) -> None:
    """Record a run the worker gave up on, so the page says so instead of spinning."""
    DriftRun.objects.filter(pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).update(
        status=RunStatus.FAILED,
        drift_status=DriftLevel.UNKNOWN,
        reason=f"The drift run failed: {error[:500]}",
        error=error[:2000],
        finished_at=timezone.now(),
    )


# --- Actions --------------------------------------------------------------------------------------


def _acts(monitor: Monitor, run: DriftRun) -> bool:
    if run.drift_status == DriftLevel.DRIFT:
        return True
    return monitor.act_on == ActOn.WARNING and run.drift_status == DriftLevel.WARNING


def drift_payload(run: DriftRun, deployment: Deployment) -> dict[str, Any]:
    version = deployment.model_version
    return {
        "run": run.pk,
        "model": version.model.name,
        "version": version.version,
        "deployment": deployment.pk,
        "endpoint": deployment.name,
        "revision": deployment.revision,
        "status": run.drift_status,
        "window": {
            "kind": run.window,
            "start": run.window_start.isoformat() if run.window_start else None,
            "end": run.window_end.isoformat() if run.window_end else None,
            "rows": run.current_rows,
        },
        "share_drifted": run.share_drifted,
        "drifted_columns": run.drifted_columns,
        "report": f"{settings.PORTAL_BASE_URL}/t/{deployment.tenant.slug}/deployments/"
        f"{deployment.pk}/drift/",
    }


@transaction.atomic
def drift_actions_fire(*, run_id: int) -> dict[str, Any]:
    """Fire the monitor's actions for a finished run, once: the run row is locked and marked."""
    run = DriftRun.objects.select_for_update(of=("self",)).select_related("monitor").get(pk=run_id)
    monitor = run.monitor
    if run.actions_done_at is not None or monitor is None or run.status != RunStatus.SUCCEEDED:
        return run.actions
    actions: dict[str, Any] = {}
    if _acts(monitor, run):
        deployment = Deployment.objects.select_related("model_version__model", "tenant").get(
            pk=run.deployment_id
        )
        payload = drift_payload(run, deployment)
        name = f"{deployment.name} r{deployment.revision}"
        if monitor.alert:
            deliveries = notify(
                tenant_id=run.tenant_id,
                event=DRIFT_EVENT,
                payload=payload,
                emails=monitor.alert_emails,
                subject=f"Drift on {name}: {', '.join(run.drifted_columns) or 'no column'}",
            )
            actions["alert"] = {"webhooks": len(deliveries), "emails": len(monitor.alert_emails)}
        if monitor.open_incident:
            incident = incident_open(
                actor=MONITOR_ACTOR,
                tenant_id=run.tenant_id,
                title=f"Drift on {name}",
                severity="sev3",
                description=_incident_text(run),
                source="drift",
                deployment_id=deployment.pk,
            )
            actions["incident"] = incident.pk
        if monitor.retrain_webhook:
            deliveries = notify(tenant_id=run.tenant_id, event=RETRAIN_EVENT, payload=payload)
            actions["retrain"] = {"webhooks": len(deliveries)}
        if monitor.review_high_risk and deployment.model_version.model.risk_tier == RiskTier.HIGH:
            actions["review"] = _request_review(run, deployment, payload)
    run.actions, run.actions_done_at = actions, timezone.now()
    run.save(update_fields=["actions", "actions_done_at"])
    return actions


def _incident_text(run: DriftRun) -> str:
    lines = [
        f"Drift status {run.drift_status}: {len(run.drifted_columns)} drifted column(s) "
        f"({run.share_drifted:.0%}) over {run.current_rows} rows.",
    ]
    for column in run.columns:
        if column.get("drifted"):
            lines.append(
                f"- {column['name']}: {column.get('method_label')} = "
                f"{column.get('statistic'):.4g} (threshold {column.get('threshold')})"
            )
    return "\n".join(lines)


def _request_review(run: DriftRun, deployment: Deployment, payload: dict[str, Any]) -> dict:
    """A high-risk model drifted: put its live deployment back under review (governance leads
    decide while it keeps serving) and open an incident."""
    review = None
    if deployment.state == "live":
        review = deployment_review_request(
            actor=MONITOR_ACTOR,
            deployment=deployment,
            reason=(
                f"The traffic drifted (drift run {run.pk}: "
                f"{', '.join(run.drifted_columns) or 'the dataset'}); a high-risk model is "
                "reviewed again."
            ),
        )
    incident = incident_open(
        actor=MONITOR_ACTOR,
        tenant_id=deployment.tenant_id,
        title=f"High-risk model drifted: review {deployment.name} r{deployment.revision}",
        severity="sev2",
        description=_incident_text(run)
        + "\n\nThe model is high risk: governance should review this deployment again.",
        source="drift",
        deployment_id=deployment.pk,
    )
    notify(tenant_id=deployment.tenant_id, event=REVIEW_EVENT, payload=payload)
    return {"incident": incident.pk, "review": review.pk if review else None, "audited": True}


# --- Scheduling -----------------------------------------------------------------------------------


def monitor_run_due(*, monitor_id: int, now: Any = None) -> list[DriftRun]:
    """Queue runs for a due monitor and move its next run time on (twice in a row queues once)."""
    now = now or timezone.now()
    with transaction.atomic():
        monitor = Monitor.objects.select_for_update().filter(pk=monitor_id, enabled=True).first()
        if monitor is None or (monitor.next_run_at and monitor.next_run_at > now):
            return []
        monitor.last_run_at = now
        monitor.next_run_at = now + timedelta(minutes=monitor.interval_minutes)
        monitor.save(update_fields=["last_run_at", "next_run_at"])
        return [
            drift_run_request(deployment=deployment, monitor=monitor)
            for deployment in monitored_deployments(monitor)
        ]
