"""Exporting a deployment's decision log: each download is recorded in the audit trail, with its
range, format, rows and SHA-256, before its first byte leaves."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from portal.core.audit import Actor, audit_record
from portal.deployments.models import Deployment
from portal.monitoring.selectors import DecisionLogDownload, decision_log_download

EXPORTED = "decision_log.exported"


def decision_log_export(
    *, actor: Actor, deployment: Deployment, start: datetime, end: datetime, fmt: str
) -> DecisionLogDownload:
    """The deployment's decision log over [start, end) in ``fmt``, ready to stream, and audited."""
    download = decision_log_download(deployment=deployment, start=start, end=end, fmt=fmt)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=EXPORTED,
            object_type="deployment",
            object_id=deployment.pk,
            tenant_id=deployment.tenant_id,
            after={
                "from": start.isoformat(),
                "to": end.isoformat(),
                "format": fmt,
                "rows": download.log.rows,
                "partitions": len(download.log.partitions),
                "sha256": download.sha256,
                "bytes": download.size,
            },
        )
    return download
