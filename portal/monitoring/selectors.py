"""Monitoring reads: the drift status of deployments, a deployment's drift history, and its
decision log as a download with its manifest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from portal.deployments.models import Deployment
from portal.monitoring.decision_logs import (
    DecisionLog,
    decision_log_chunks,
    decision_log_digest,
    decision_log_read,
    partition_sha256,
)
from portal.monitoring.models import DriftLevel, DriftRun, Monitor, RunStatus
from portal.monitoring.retention import retention_days

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


# --- Decision logs --------------------------------------------------------------------------------


CONTENT_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class DecisionLogDownload:
    """One deployment's decision log over a range, ready to stream in ``format``."""

    deployment: Deployment
    log: DecisionLog
    format: str
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        deployment, log = self.deployment, self.log
        return (
            f"decision-log-{deployment.name}-r{deployment.revision}-"
            f"{log.start:%Y%m%dT%H%M}-{log.end:%Y%m%dT%H%M}.{self.format}"
        )

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def headers(self) -> dict[str, str]:
        """What a downloader checks the file against without the manifest."""
        return {"X-Decision-Log-SHA256": self.sha256, "X-Decision-Log-Rows": str(self.log.rows)}

    def chunks(self) -> Iterator[bytes]:
        return decision_log_chunks(self.log, self.format)


def decision_log_download(
    *, deployment: Deployment, start: datetime, end: datetime, fmt: str
) -> DecisionLogDownload:
    """The deployment's decision log over [start, end) in ``fmt``, hashed (read twice: once
    now for its hash, once when streamed)."""
    log = decision_log_read(
        tenant_id=deployment.tenant_id, deployment_id=deployment.pk, start=start, end=end
    )
    digest, size = decision_log_digest(log, fmt)
    return DecisionLogDownload(deployment=deployment, log=log, format=fmt, sha256=digest, size=size)


def _period(start: datetime | None, end: datetime | None) -> dict[str, str | None]:
    return {
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
    }


def decision_log_partitions(log: DecisionLog) -> list[dict[str, Any]]:
    """Each partition of ``log``: where it is, its hour, rows of the range, size and SHA-256."""
    return [
        {
            "path": part.relative,
            "hour": part.hour.isoformat(),
            "rows": part.rows,
            "bytes": part.bytes,
            "sha256": partition_sha256(log, part),
        }
        for part in log.partitions
    ]


def decision_log_about(deployment: Deployment) -> dict[str, Any]:
    """Which deployment, model, version and tier a decision log is of, and how long it is kept."""
    version = deployment.model_version
    tier = version.model.risk_tier
    return {
        "deployment": {
            "id": deployment.pk,
            "name": deployment.name,
            "revision": deployment.revision,
            "environment": deployment.environment,
        },
        "model": {"name": version.model.name, "version": version.version, "tier": tier},
        "retention_days": retention_days(tier),
    }


def decision_log_manifest(download: DecisionLogDownload) -> dict[str, Any]:
    """The manifest of a decision-log download: what it is of, its partitions, and its hash."""
    log = download.log
    return {
        **decision_log_about(download.deployment),
        "range": _period(log.start, log.end),
        "partitions": decision_log_partitions(log),
        "not_yet_compacted_rows": log.hot_rows,
        "export": {
            "format": download.format,
            "rows": log.rows,
            "sha256": download.sha256,
            "bytes": download.size,
        },
        "generated_at": timezone.now().isoformat(),
    }


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
