"""Monitors: which deployment's traffic is compared how often, and what a drifting run sets
off; a due monitor queues the runs of its live deployments."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.core.audit import Actor, apply_updates, audit_record
from portal.core.errors import Conflict, InvalidRequest
from portal.deployments.models import Deployment, DeploymentState
from portal.monitoring import engine
from portal.monitoring.models import DriftRun, Monitor
from portal.monitoring.services.runs import drift_run_request

MONITORED_STATES = (DeploymentState.LIVE,)
# What a monitor's owner sets, in the order the API shows it.
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
