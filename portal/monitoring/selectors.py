"""Monitoring reads: the drift status of deployments, and a deployment's drift history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from portal.monitoring.models import DriftLevel, DriftRun, Monitor, RunStatus

FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED)
NO_RUN_REASON = "No drift run has finished for this deployment yet."


@dataclass(frozen=True)
class DriftStatus:
    """A deployment's drift status as its latest finished run left it."""

    status: str  # ok, warning, drift, unknown
    reason: str = ""
    run_id: int | None = None
    checked_at: datetime | None = None
    drifted_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return DriftLevel(self.status).label

    @property
    def css(self) -> str:
        return {"ok": "ok", "warning": "warn", "drift": "bad"}.get(self.status, "")


def latest_runs(
    deployment_ids: Iterable[int], *, runs: QuerySet[DriftRun] | None = None
) -> QuerySet[DriftRun]:
    """The latest finished run of each deployment, among ``runs`` (by default the runs of the
    tenant in scope)."""
    runs = DriftRun.objects.all() if runs is None else runs
    latest = (
        runs.filter(deployment_id=OuterRef("deployment_id"), status__in=FINISHED)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    return runs.filter(
        deployment_id__in=list(deployment_ids), status__in=FINISHED, pk=Subquery(latest)
    )


def drift_status_by_deployment(
    deployment_ids: Iterable[int], *, runs: QuerySet[DriftRun] | None = None
) -> dict[int, DriftStatus]:
    """Every given deployment's drift status, in one query; unknown where no run finished.
    ``runs`` as for ``latest_runs``."""
    ids = list(deployment_ids)
    found = {
        run.deployment_id: DriftStatus(
            status=run.drift_status,
            reason=run.reason,
            run_id=run.pk,
            checked_at=run.finished_at,
            drifted_columns=tuple(run.drifted_columns),
        )
        for run in latest_runs(ids, runs=runs).only(
            "deployment_id", "drift_status", "reason", "finished_at", "drifted_columns"
        )
    }
    return {pk: found.get(pk, DriftStatus(status="unknown", reason=NO_RUN_REASON)) for pk in ids}


def drift_history(deployment_id: int, *, limit: int = 60) -> list[DriftRun]:
    """The deployment's latest finished runs, oldest first (for a chart)."""
    runs = DriftRun.objects.filter(deployment_id=deployment_id, status__in=FINISHED).order_by(
        "-created_at", "-id"
    )
    return list(
        reversed(
            runs.only(
                "created_at", "finished_at", "drift_status", "share_drifted", "share_threshold"
            )[:limit]
        )
    )


def monitor_facts(endpoint: str) -> dict[str, Any]:
    """What a policy knows of the endpoint's drift monitor (the tenant in scope's): whether it
    exists and is enabled, when it last ran and the drift status its last finished run found."""
    monitor = Monitor.objects.filter(endpoint=endpoint).first()
    if monitor is None:
        return {"exists": False, "enabled": False, "last_run_at": "", "last_verdict": ""}
    last = (
        DriftRun.objects.filter(monitor=monitor, status__in=FINISHED)
        .order_by("-created_at", "-id")
        .values_list("drift_status", flat=True)
        .first()
    )
    return {
        "exists": True,
        "enabled": monitor.enabled,
        "last_run_at": monitor.last_run_at.isoformat() if monitor.last_run_at else "",
        "last_verdict": last or "",
    }
