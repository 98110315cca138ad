"""The decision logs' section of a version's evidence pack (registered in ``MonitoringConfig``).

``3-record-keeping/decision_logs/manifest.json`` lists, for each deployment of the version, the
partitions of its decision log up to the moment the pack is built: where each is in the capture
store, its hour, rows, size and SHA-256. When all of them together fit in
``EVIDENCE_DECISION_LOG_MAX_BYTES`` the partitions themselves are in the pack beside it (each
entry names its ``file``); beyond it the manifest is enough to find and check them in the store.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from portal.catalog.models import ModelVersion
from portal.monitoring.decision_logs import decision_log_read
from portal.monitoring.retention import retention_days
from portal.monitoring.selectors import decision_log_about, decision_log_partitions

FOLDER = "3-record-keeping/decision_logs"


def store_location(uri: str) -> str:
    """The capture store's URI without the credentials or options a URI may carry."""
    parts = urlsplit(uri)
    if "://" not in uri or not parts.scheme:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def evidence_decision_logs(
    *, version: ModelVersion, start: datetime | None, end: datetime
) -> dict[str, bytes]:
    deployments = version.deployments.select_related("model_version__model")
    logs = [
        (
            deployment,
            decision_log_read(
                tenant_id=deployment.tenant_id, deployment_id=deployment.pk, start=start, end=end
            ),
        )
        for deployment in deployments.order_by("created_at", "pk")
    ]
    cap = settings.EVIDENCE_DECISION_LOG_MAX_BYTES
    included = sum(log.bytes for _, log in logs) <= cap
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    for deployment, log in logs:
        partitions = decision_log_partitions(log)
        if included:
            for part, entry in zip(log.partitions, partitions, strict=True):
                name = f"{FOLDER}/{part.relative}"
                with log.filesystem.open_input_stream(part.path) as handle:
                    data = handle.read()
                if hashlib.sha256(data).hexdigest() == entry["sha256"]:
                    files[name] = data
                    entry["file"] = name
        about = decision_log_about(deployment)
        entries.append(
            {
                "deployment": about["deployment"],
                "retention_days": about["retention_days"],
                "rows": log.rows,
                "not_yet_compacted_rows": log.hot_rows,
                "partitions": partitions,
            }
        )
    model = version.model
    manifest = {
        "model": {"name": model.name, "version": version.version, "tier": model.risk_tier},
        "retention_days": retention_days(model.risk_tier),
        "period": {"from": None if start is None else start.isoformat(), "to": end.isoformat()},
        "store": store_location(settings.CAPTURE_STORE_URI),
        "data_included": included,
        "note": (
            "The partitions are in this pack beside this manifest (file)."
            if included
            else f"The partitions together exceed EVIDENCE_DECISION_LOG_MAX_BYTES ({cap} bytes): "
            "find each by its path under the store and check it against its SHA-256."
        ),
        "deployments": entries,
    }
    files[f"{FOLDER}/manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    return files
