"""Monitoring tasks: compaction and retention of captured traffic, baselines, drift runs.

Beat runs ``monitoring.run_due_monitors`` and ``monitoring.compact_captures``; each fans out to
per-tenant or per-row tasks that take ids, run inside the tenant's scope and are safe to run
twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from portal.catalog.mlflow_adapter import MlflowUnavailable
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor
from portal.core.errors import PortalError
from portal.deployments.models import Deployment
from portal.monitoring import services, store
from portal.monitoring.models import BaselineSource, DriftRun, Monitor
from tenants.models import Tenant
from tenants.scoping import tenant_scope

TRANSIENT = (OperationalError, OSError, MlflowUnavailable)


@shared_task(name="monitoring.compact_captures", acks_late=True)
def compact_captures() -> int:
    """Fan out compaction and retention to every active tenant."""
    tenants = list(Tenant.objects.filter(active=True).values_list("pk", flat=True))
    for tenant_id in tenants:
        compact_tenant.delay(tenant_id=tenant_id)
    return len(tenants)


@shared_task(
    name="monitoring.compact_tenant",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def compact_tenant(*, tenant_id: int) -> dict[str, Any]:
    older_than = timezone.now() - timedelta(minutes=settings.CAPTURE_COMPACT_AFTER_MINUTES)
    with tenant_scope(tenant_id):
        result = store.capture_compact(tenant_id=tenant_id, older_than=older_than)
        removed = store.capture_retention_apply(tenant_id=tenant_id)
    return {"requests": result.requests, "rows": result.rows, "partitions_removed": len(removed)}


@shared_task(name="monitoring.run_due_monitors", acks_late=True)
def run_due_monitors() -> int:
    """Queue the drift runs of every monitor that is due."""
    # A scheduler pass over every tenant: it reads ids and due times only, each monitor then
    # runs inside its tenant's scope.
    due = list(
        Monitor.objects.dangerously_across_tenants()
        .filter(enabled=True, next_run_at__lte=timezone.now(), tenant__active=True)
        .values_list("pk", "tenant_id")
    )
    for monitor_id, tenant_id in due:
        with tenant_scope(tenant_id):
            services.monitor_run_due(monitor_id=monitor_id)
    return len(due)


@shared_task(
    name="monitoring.execute_drift_run",
    bind=True,
    acks_late=True,
    max_retries=3,
    soft_time_limit=60 * 60,
    time_limit=int(services.RUN_ABANDONED_AFTER.total_seconds()),
)
def execute_drift_run(self: Any, *, tenant_id: int, run_id: int) -> str:
    with tenant_scope(tenant_id):
        try:
            run = services.drift_run_execute(run_id=run_id)
        except TRANSIENT as error:
            DriftRun.objects.filter(pk=run_id, status="running").update(status="queued")
            if self.request.retries >= self.max_retries:
                services.drift_run_fail(run_id=run_id, error=str(error))
                return "failed"
            raise self.retry(exc=error, countdown=30 * 2**self.request.retries) from error
    return run.status if run else "gone"


@shared_task(
    name="monitoring.build_baseline",
    bind=True,
    acks_late=True,
    max_retries=5,
)
def build_baseline(
    self: Any,
    *,
    tenant_id: int,
    source: str,
    version_id: int | None = None,
    deployment_id: int | None = None,
    actor_label: str = "baseline task",
    prediction_column: str = "",
) -> str:
    """Build a baseline from the logged dataset (``version_id``) or the first captured rows of
    a deployment (``deployment_id``); a failure is kept on the baseline for people to see."""
    actor = Actor.system(actor_label)
    with tenant_scope(tenant_id):
        deployment = (
            Deployment.objects.select_related("model_version").filter(pk=deployment_id).first()
            if source == BaselineSource.CAPTURE and deployment_id is not None
            else None
        )
        if source == BaselineSource.CAPTURE and deployment is None:
            return "gone"
        version = (
            deployment.model_version
            if deployment is not None
            else ModelVersion.objects.filter(pk=version_id or 0).first()
        )
        if version is None:
            return "gone"
        try:
            if deployment is not None:
                services.baseline_from_capture(deployment=deployment, actor=actor)
            else:
                services.baseline_from_dataset(
                    version=version, actor=actor, prediction_column=prediction_column
                )
        except TRANSIENT as error:
            if self.request.retries >= self.max_retries:
                services.baseline_record_failure(
                    version=version, source=source, error=str(error), actor=actor
                )
                return "failed"
            raise self.retry(exc=error, countdown=30 * 2**self.request.retries) from error
        except PortalError as error:
            services.baseline_record_failure(
                version=version, source=source, error=error.detail, actor=actor
            )
            return "failed"
    return "ready"
