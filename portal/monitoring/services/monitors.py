"""Monitors: which deployment's traffic is compared how often, and what a drifting run sets
off; a due monitor queues the runs of its live deployments.

A request with the drift option is monitored by construction: when its revision goes live
(``portal.deployments.signals.revision_live``), the endpoint gets a monitor if it has none, due
at once, and the version a baseline from the dataset its run logged; without a readable dataset,
the monitor's runs build one from the first ``BASELINE_FROM_CAPTURE_ROWS`` captured rows. A
``MonitorSpan`` is opened and closed as a monitor is enabled and disabled; the monitoring charge
is metered from the spans.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.core import outbox
from portal.core.audit import Actor, apply_updates, audit_record
from portal.core.errors import Conflict, InvalidRequest
from portal.deployments.models import Deployment, DeploymentState
from portal.monitoring import engine
from portal.monitoring.models import (
    Baseline,
    BaselineSource,
    BaselineStatus,
    DriftRun,
    Monitor,
    MonitorSpan,
)
from portal.monitoring.services.baselines import check_logged_dataset
from portal.monitoring.services.runs import drift_run_request

MONITORED_STATES = (DeploymentState.LIVE,)
BY_CONSTRUCTION = "the request asked for drift monitoring"
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


def _span_open(monitor: Monitor, at: Any) -> None:
    MonitorSpan.objects.create(
        tenant_id=monitor.tenant_id, monitor=monitor, endpoint=monitor.endpoint, started_at=at
    )


def _span_close(monitor: Monitor, at: Any) -> None:
    MonitorSpan.objects.filter(monitor=monitor, ended_at__isnull=True).update(ended_at=at)


@transaction.atomic
def monitor_create(
    *, actor: Actor, tenant_id: int, endpoint: str, reason: str = "", **fields: Any
) -> Monitor:
    """Watch ``endpoint`` from now on (its first run is due at once); ``reason`` is audited."""
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
    if monitor.enabled:
        _span_open(monitor, monitor.created_at)
    audit_record(
        actor=actor,
        action="monitor.created",
        object_type="monitor",
        object_id=monitor.pk,
        tenant_id=tenant_id,
        after={"endpoint": endpoint, **_monitor_snapshot(monitor), **_why(reason)},
    )
    return monitor


def _why(reason: str) -> dict[str, str]:
    return {"reason": reason} if reason else {}


def _baseline_from_logged_dataset(deployment: Deployment) -> None:
    """Queue the version's baseline from the dataset its run logged, when it has none and the
    dataset is one the portal can read; otherwise the monitor's runs build it from traffic."""
    version = deployment.model_version
    if Baseline.objects.filter(model_version=version, status=BaselineStatus.READY).exists():
        return
    try:
        check_logged_dataset(version=version)
    except InvalidRequest:
        return
    outbox.enqueue_on_commit(
        "monitoring.build_baseline",
        tenant_id=deployment.tenant_id,
        source=BaselineSource.DATASET,
        version_id=version.pk,
        actor_label="monitoring by construction",
    )


def monitor_for_live_revision(*, actor: Actor, deployment: Deployment) -> Monitor | None:
    """A revision went live: when its request asked for drift monitoring, its endpoint gets a
    monitor (if it has none) and its version a baseline. Runs in the rollout's transaction."""
    if not deployment.drift_monitor:
        return None
    _baseline_from_logged_dataset(deployment)
    existing = Monitor.objects.filter(endpoint=deployment.name).first()
    if existing is not None:
        return existing
    return monitor_create(
        actor=actor,
        tenant_id=deployment.tenant_id,
        endpoint=deployment.name,
        reason=BY_CONSTRUCTION,
    )


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
    now = timezone.now()
    if "interval_minutes" in after or after.get("enabled"):
        monitor.next_run_at = now
    if "enabled" in after:
        (_span_open if monitor.enabled else _span_close)(monitor, now)
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
    """The endpoint's live revisions: a monitor watches them all, whatever each request asked
    (the policy counts an endpoint's enabled monitor as monitoring of its next revision)."""
    return list(
        Deployment.objects.select_related("model_version__model").filter(
            name=monitor.endpoint, state__in=MONITORED_STATES
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
