"""Drift runs: a deployment's captured window compared with its version's baseline, streamed
chunk by chunk, recorded per column with the deployment's drift status; a monitor's run then
fires its actions."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.core import outbox
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest
from portal.deployments.models import Deployment
from portal.monitoring import engine, profiles
from portal.monitoring.models import (
    Baseline,
    BaselineStatus,
    DriftLevel,
    DriftRun,
    Monitor,
    RunStatus,
    Window,
)
from portal.monitoring.services.actions import drift_actions_fire
from portal.monitoring.services.baselines import baseline_from_capture
from portal.monitoring.store import CaptureWindow, WindowSpec

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2.0
# The hard time limit of ``monitoring.execute_drift_run``: a run still running this long after it
# started has no worker any more (its worker was lost, and a redelivery cannot claim it).
RUN_ABANDONED_AFTER = timedelta(minutes=61)
ABANDONED_ERROR = "The worker running it stopped before it finished; a new run can be requested."


def drift_run_request(
    *, deployment: Deployment, monitor: Monitor | None = None, trigger: str = "schedule"
) -> DriftRun:
    """Queue a run for the deployment (the one already queued or running, if any), enqueued on
    commit. A run abandoned by a lost worker is failed first, so it never blocks new runs."""
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
    outbox.enqueue_on_commit(
        "monitoring.execute_drift_run", tenant_id=deployment.tenant_id, run_id=run.pk
    )
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


def _baseline_from_traffic(run: DriftRun, deployment: Deployment) -> tuple[Baseline | None, str]:
    """A monitor's run of a version with no baseline builds one from the deployment's first
    captured rows once enough are in; otherwise says how far the traffic has come."""
    if not run.monitor_id:
        return None, ""
    try:
        return baseline_from_capture(
            deployment=deployment, actor=Actor.system("drift monitor"), all_rows=True
        ), ""
    except InvalidRequest as error:  # too few rows yet, or rows the signature does not name
        return None, f" ({error.detail.rstrip('.')})"


def drift_run_execute(*, run_id: int) -> DriftRun | None:
    """Run a queued drift run to its end; a run already taken by another worker is left alone."""
    run = _claim(run_id)
    if run is None:
        return DriftRun.objects.filter(pk=run_id).first()
    deployment = Deployment.objects.select_related("model_version__model").get(pk=run.deployment_id)
    baseline = Baseline.objects.filter(
        model_version_id=deployment.model_version_id, status=BaselineStatus.READY
    ).first()
    waiting = ""
    if baseline is None:
        baseline, waiting = _baseline_from_traffic(run, deployment)
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
                f"{deployment.model_version.model.name} has no baseline yet{waiting}: upload one, "
                "or build it from the logged dataset or the first captured rows."
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
