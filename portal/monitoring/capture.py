"""Captured traffic: what the inference gateway hands over, stored hot in the database.

The gateway calls ``capture_write_many`` from a background thread with records of any tenant.
It stores one ``CapturedRequest`` per record in one bulk insert and never raises for bad values:
anything JSON cannot hold is stored as its text, non-finite floats as null (a drift run counts
them as missing either way), rows shorter than the columns are padded with nulls. Records whose
ids are not integers are skipped and logged, and so is a record whose deployment no longer
exists or belongs to another tenant. Database errors (the database is down) do propagate, so the caller can keep its buffer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from portal.deployments.models import Deployment
from portal.monitoring.models import CapturedRequest

logger = logging.getLogger(__name__)

MAX_DEPTH = 20


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    tenant_id: int
    deployment_id: int  # the revision that answered
    received_at: datetime  # aware, UTC
    columns: list[str]  # input column names
    rows: list[list[Any]]  # input rows (JSON-able values), same order as columns
    predictions: list[Any]  # one output per row (scalar, list or dict, JSON-able)
    latency_ms: float
    shadow: bool = False


def clean_value(value: Any, depth: int = 0) -> Any:
    """``value`` as something a JSON column stores and reads back unchanged."""
    kind = type(value)
    if kind is str:
        return value.replace("\x00", "") if "\x00" in value else value
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return str(value)
    if isinstance(value, list | tuple):
        return [clean_value(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(key): clean_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, bool | int | float | str):  # subclasses, e.g. numpy.float64
        return clean_value(_plain(value), depth + 1)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return clean_value(item(), depth + 1)
        except (TypeError, ValueError):
            pass
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        return str(value).replace("\x00", "")
    except Exception:  # a value whose __str__ fails is still not a reason to raise
        return f"<unprintable {kind.__name__}>"


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _clean_row(row: Any, width: int) -> list[Any]:
    if not isinstance(row, list | tuple):
        row = [row]
    cleaned = [clean_value(value) for value in row[:width]]
    if len(cleaned) < width:
        cleaned.extend([None] * (width - len(cleaned)))
    return cleaned


def _received_at(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return timezone.now()
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value.astimezone(UTC)


def _to_row(record: CaptureRecord) -> CapturedRequest | None:
    try:
        tenant_id, deployment_id = int(record.tenant_id), int(record.deployment_id)
    except (TypeError, ValueError):
        logger.warning(
            "Capture skipped: tenant %r / deployment %r are not ids",
            record.tenant_id,
            record.deployment_id,
        )
        return None
    columns = [str(clean_value(name)) for name in (record.columns or [])]
    rows = [_clean_row(row, len(columns)) for row in (record.rows or [])]
    predictions = [clean_value(value) for value in (record.predictions or [])][: len(rows)]
    predictions.extend([None] * (len(rows) - len(predictions)))
    try:
        latency = float(record.latency_ms)
    except (TypeError, ValueError):
        latency = 0.0
    return CapturedRequest(
        tenant_id=tenant_id,
        deployment_id=deployment_id,
        received_at=_received_at(record.received_at),
        columns=columns,
        rows=rows,
        predictions=predictions,
        row_count=len(rows),
        latency_ms=latency if math.isfinite(latency) else 0.0,
        shadow=bool(record.shadow),
    )


def capture_write_many(records: Sequence[CaptureRecord]) -> int:
    """Store the records in one bulk insert; the number of input rows stored."""
    objects = [row for row in map(_to_row, records) if row is not None]
    if not objects:
        return 0
    # The gateway's writer serves every tenant; each row carries its tenant, checked here
    # against its deployment's, so a mislabelled record cannot land in another tenant.
    owners = dict(
        Deployment.objects.dangerously_across_tenants()
        .filter(pk__in={row.deployment_id for row in objects})
        .values_list("pk", "tenant_id")
    )
    kept = [row for row in objects if owners.get(row.deployment_id) == row.tenant_id]
    if len(kept) < len(objects):
        logger.warning(
            "Capture dropped %d requests of unknown deployments or the wrong tenant",
            len(objects) - len(kept),
        )
    CapturedRequest.objects.dangerously_across_tenants().bulk_create(kept)
    return sum(row.row_count for row in kept)
