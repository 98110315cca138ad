"""Metering: usage events, recorded once each, and the meters the portal reads itself.

``usage_record_many`` stores events in one ``INSERT ... ON CONFLICT (idempotency_key) DO
NOTHING``: an event sent twice is stored (and charged) once, and the call returns how many were
new. Each event is charged in the month its ``start`` falls in; when that month is already
closing or closed, in the next open month, marked as a correction. The month rows are read
``FOR SHARE`` in the insert's transaction, so a close that starts meanwhile waits for the insert
to commit and then sees it.

The portal's own meters, each safe to run every few minutes or twice (an event's key names its
resource and its hour or day, and only finished hours or days are recorded):

- ``meter_deployment_hours``: instance-hours of every deployment's live interval, to the second,
  cut at hour boundaries, less the time it was suspended (its ``suspensions``); quantity =
  hours x replicas, priced per instance type.
- ``meter_storage``: artifact GiB-months of every catalog version with a known artifact size,
  one event a day (size in GiB / days in the month).
- ``meter_monitoring``: monitored model-months of every live revision while its endpoint had an
  enabled drift monitor (``MonitorSpan``), one event a day (seconds live and monitored that day /
  seconds in the month); what the request asked for does not matter, the monitor's life does.

The gateway sends ``requests`` and ``compute_seconds`` per deployment and minute.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from chargeback.models import BillingPeriod, Meter, PeriodState, UsageEvent
from portal.catalog.models import ModelVersion
from portal.core.errors import InvalidRequest
from portal.deployments.models import Deployment
from portal.monitoring.models import MonitorSpan
from tenants.models import Tenant
from tenants.scoping import dangerously_across_tenants, tenant_scope

METER_UNITS: dict[str, str] = {
    Meter.DEPLOYMENT_HOURS: "hour",
    Meter.REQUESTS: "requests",
    Meter.COMPUTE_SECONDS: "seconds",
    Meter.STORAGE_GB_MONTHS: "GB-month",
    Meter.MONITORED_MODEL_MONTHS: "model-month",
}
QUANTUM = Decimal("0.000000000001")  # the 12 decimals a quantity is stored with
GIB = Decimal(1024**3)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
INSERT_BATCH = 1000
CLOSED_STATES = (PeriodState.CLOSING, PeriodState.CLOSED)


@dataclass(frozen=True)
class UsageInput:
    """One measured quantity, as a meter reports it."""

    tenant_id: int
    meter: str
    quantity: Decimal
    unit: str
    start: datetime
    end: datetime
    idempotency_key: str
    deployment_id: int | None = None
    resource_name: str = ""
    instance_type: str = ""
    model_name: str = ""
    model_version: int | None = None
    resource_id: str = ""  # defaults to "deployment/<id>" or the resource name
    attributes: dict[str, Any] = field(default_factory=dict)


def month_of(moment: datetime) -> date:
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def _validate(event: UsageInput) -> None:
    unit = METER_UNITS.get(event.meter)
    if unit is None:
        raise InvalidRequest(f"meter must be one of: {', '.join(METER_UNITS)}.")
    if event.unit != unit:
        raise InvalidRequest(f"The {event.meter} meter counts in '{unit}', not '{event.unit}'.")
    if not isinstance(event.quantity, Decimal) or not event.quantity.is_finite():
        raise InvalidRequest("quantity must be a Decimal.")
    if event.quantity < 0:
        raise InvalidRequest("quantity must be 0 or more; corrections are credit notes.")
    if event.start.tzinfo is None or event.end.tzinfo is None or event.end < event.start:
        raise InvalidRequest("start and end must be aware datetimes with start <= end.")
    if not event.idempotency_key or len(event.idempotency_key) > 200:
        raise InvalidRequest("idempotency_key must have 1 to 200 characters.")


def _closed_months(months: set[date]) -> set[date]:
    """Which of ``months`` (and of the months after them) no longer take usage.

    The rows of ``months`` are created if missing and read FOR SHARE, so a close waits for this
    transaction before it turns its month to ``closing``.
    """
    BillingPeriod.objects.bulk_create(
        [BillingPeriod(month=month) for month in sorted(months)], ignore_conflicts=True
    )
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(BillingPeriod._meta.db_table)
        sql = f"SELECT month FROM {table} WHERE month = ANY(%s) AND state = ANY(%s) FOR SHARE"  # noqa: S608 (the table name is the model's; values are parameters)
        with connection.cursor() as cursor:
            cursor.execute(sql, [sorted(months), [str(state) for state in CLOSED_STATES]])
            closed = {row[0] for row in cursor.fetchall()}
    else:
        closed = set(
            BillingPeriod.objects.filter(month__in=months, state__in=CLOSED_STATES).values_list(
                "month", flat=True
            )
        )
    if closed:
        # Later months may be closed too (a late event for a month closed long ago).
        later = BillingPeriod.objects.filter(month__gt=min(closed), state__in=CLOSED_STATES)
        closed |= set(later.values_list("month", flat=True))
    return closed


def _charge_month(month: date, closed: set[date]) -> date:
    while month in closed:
        month = next_month(month)
    return month


def _rows(events: Sequence[UsageInput], closed: set[date]) -> Iterator[UsageEvent]:
    now = datetime.now(UTC)
    for event in events:
        month = month_of(event.start)
        charged = _charge_month(month, closed)
        resource_id = event.resource_id or (
            f"deployment/{event.deployment_id}" if event.deployment_id else event.resource_name
        )
        yield UsageEvent(
            tenant_id=event.tenant_id,
            meter=event.meter,
            quantity=event.quantity.quantize(QUANTUM),
            unit=event.unit,
            deployment_id=event.deployment_id,
            resource_id=resource_id[:100],
            resource_name=event.resource_name[:200],
            instance_type=event.instance_type[:64],
            model_name=event.model_name[:256],
            model_version=event.model_version,
            start=event.start,
            end=event.end,
            idempotency_key=event.idempotency_key,
            charge_period=charged,
            correction=charged != month,
            attributes=event.attributes,
            created_at=now,
        )


def _insert_ignoring_known(rows: list[UsageEvent]) -> int:
    """INSERT ... ON CONFLICT (idempotency_key) DO NOTHING, counting the rows it stored."""
    fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    stored = 0
    # The meters and the gateway write usage of every tenant they serve, in one statement.
    with dangerously_across_tenants("usage of any tenant"), connection.cursor() as cursor:
        for offset in range(0, len(rows), INSERT_BATCH):
            batch = rows[offset : offset + INSERT_BATCH]
            params: list[Any] = []
            for row in batch:
                params.extend(
                    f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields
                )
            values = ", ".join([placeholders] * len(batch))
            sql = f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1"  # noqa: S608 (names are the model's; values are parameters)
            cursor.execute(sql, params)
            stored += len(cursor.fetchall())
    return stored


def usage_record_many(events: list[UsageInput]) -> int:
    """Store ``events`` (any tenants) once each; returns how many were new.

    The callers are the portal's meters and the inference gateway, which give tenant ids they
    resolved themselves; the whole list is refused with a 400 if one event is malformed.
    """
    if not events:
        return 0
    for event in events:
        _validate(event)
    with transaction.atomic():
        closed = _closed_months({month_of(event.start) for event in events})
        return _insert_ignoring_known(list(_rows(events, closed)))


# --- The portal's own meters ------------------------------------------------------------------


def _micro(span: timedelta) -> Decimal:
    return Decimal(span // timedelta(microseconds=1)) / Decimal(1_000_000)


def _floor(moment: datetime, step: timedelta) -> datetime:
    utc = moment.astimezone(UTC)
    if step == HOUR:
        return utc.replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def finished_chunks(
    begin: datetime, stop: datetime, final_end: datetime | None, step: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) pieces of [begin, stop) cut at ``step`` boundaries, only those that will
    not grow: they end on a boundary, or at ``final_end`` (when the interval is over)."""
    boundary = _floor(begin, step)
    while boundary < stop:
        start, end = max(begin, boundary), min(boundary + step, stop)
        if end > start and (end == boundary + step or end == final_end):
            yield start, end
        boundary += step


def _backfill_from(until: datetime) -> datetime:
    """How far back a meter looks for unrecorded usage (a whole day, so chunks stay aligned)."""
    return _floor(until - timedelta(days=settings.CHARGEBACK_METERING_BACKFILL_DAYS), DAY)


def _cursors(meter: str) -> dict[str, datetime]:
    """Where each resource's events of ``meter`` end (the scoped tenant's)."""
    rows = (
        UsageEvent.objects.filter(meter=meter)
        .values("resource_id")
        .annotate(last=Max("end"))
        .order_by()
    )
    return {row["resource_id"]: row["last"] for row in rows}


def _live_interval(
    deployment: Deployment, until: datetime, cursor: datetime | None
) -> tuple[datetime, datetime, datetime | None] | None:
    assert deployment.live_from is not None
    begin = max(deployment.live_from, _backfill_from(until), cursor or deployment.live_from)
    live_until = deployment.live_until
    stop = min(live_until, until) if live_until else until
    final_end = live_until if live_until and live_until <= until else None
    return (begin, stop, final_end) if stop > begin else None


def _deployment_resource(deployment: Deployment) -> dict[str, Any]:
    version = deployment.model_version
    return {
        "deployment_id": deployment.pk,
        "resource_id": f"deployment/{deployment.pk}",
        "resource_name": f"{deployment.name} r{deployment.revision} ({deployment.environment})",
        "instance_type": deployment.instance_type,
        "model_name": version.model.name,
        "model_version": version.version,
    }


def _live_deployments(until: datetime) -> Any:
    return (
        Deployment.objects.filter(live_from__isnull=False, live_from__lt=until)
        .exclude(live_until__lte=_backfill_from(until))
        .select_related("model_version__model")
    )


def _tenant_ids() -> list[int]:
    return list(Tenant.objects.order_by("pk").values_list("pk", flat=True))


def _suspended_within(deployment: Deployment, start: datetime, end: datetime) -> timedelta:
    """How much of [start, end) ``deployment`` was suspended (its suspensions prefetched)."""
    total = timedelta(0)
    for suspension in deployment.suspensions.all():
        overlap = min(end, suspension.ended_at or end) - max(start, suspension.started_at)
        total += max(overlap, timedelta(0))
    return total


def _deployment_hours(tenant_id: int, until: datetime) -> list[UsageInput]:
    cursors = _cursors(Meter.DEPLOYMENT_HOURS)
    events = []
    for deployment in _live_deployments(until).prefetch_related("suspensions"):
        resource = _deployment_resource(deployment)
        interval = _live_interval(deployment, until, cursors.get(resource["resource_id"]))
        if interval is None:
            continue
        for start, end in finished_chunks(*interval, HOUR):
            served = end - start - _suspended_within(deployment, start, end)
            if served <= timedelta(0):
                continue  # suspended the whole piece: no compute to charge
            hours = _micro(served) / 3600
            events.append(
                UsageInput(
                    tenant_id=tenant_id,
                    meter=Meter.DEPLOYMENT_HOURS,
                    quantity=hours * deployment.replicas,
                    unit="hour",
                    start=start,
                    end=end,
                    idempotency_key=f"hours:{deployment.pk}:{_floor(start, HOUR):%Y%m%dT%H}",
                    attributes={"replicas": deployment.replicas, "target": deployment.target},
                    **resource,
                )
            )
    return events


def _seconds_in_month(moment: datetime) -> int:
    return calendar.monthrange(moment.year, moment.month)[1] * 86400


def _monitored_spans(until: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each endpoint's times with an enabled monitor, up to ``until`` (the scoped tenant's)."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    rows = MonitorSpan.objects.filter(started_at__lt=until).exclude(
        ended_at__lte=_backfill_from(until)
    )
    for endpoint, started_at, ended_at in rows.values_list("endpoint", "started_at", "ended_at"):
        spans.setdefault(endpoint, []).append((started_at, min(ended_at or until, until)))
    return spans


def _overlap(start: datetime, end: datetime, spans: list[tuple[datetime, datetime]]) -> timedelta:
    """How much of [start, end) the spans cover (an endpoint's spans never overlap)."""
    return sum(
        (
            min(end, stop) - max(start, begin)
            for begin, stop in spans
            if begin < end and stop > start
        ),
        timedelta(),
    )


def _monitoring(tenant_id: int, until: datetime) -> list[UsageInput]:
    cursors = _cursors(Meter.MONITORED_MODEL_MONTHS)
    monitored = _monitored_spans(until)
    events = []
    for deployment in _live_deployments(until).filter(name__in=list(monitored)):
        resource = _deployment_resource(deployment)
        interval = _live_interval(deployment, until, cursors.get(resource["resource_id"]))
        if interval is None:
            continue
        for start, end in finished_chunks(*interval, DAY):
            covered = _overlap(start, end, monitored[deployment.name])
            if not covered:
                continue  # a finished day without a monitor is never charged, later or now
            events.append(
                UsageInput(
                    tenant_id=tenant_id,
                    meter=Meter.MONITORED_MODEL_MONTHS,
                    quantity=_micro(covered) / _seconds_in_month(start),
                    unit="model-month",
                    start=start,
                    end=end,
                    idempotency_key=f"monitoring:{deployment.pk}:{start:%Y%m%d}",
                    attributes={"monitored_seconds": int(covered.total_seconds())},
                    **resource,
                )
            )
    return events


def _storage(tenant_id: int, until: datetime) -> list[UsageInput]:
    cursors = _cursors(Meter.STORAGE_GB_MONTHS)
    versions = ModelVersion.objects.filter(
        artifact_size_bytes__gt=0, gone_from_mlflow=False, created_at__lt=until
    ).select_related("model")
    events = []
    for version in versions:
        resource_id = f"model-version/{version.pk}"
        begin = max(_floor(version.created_at, DAY), _backfill_from(until))
        if (cursor := cursors.get(resource_id)) is not None:
            begin = max(begin, cursor)
        gib = Decimal(version.artifact_size_bytes or 0) / GIB
        for start, end in finished_chunks(begin, until, None, DAY):
            days = calendar.monthrange(start.year, start.month)[1]
            events.append(
                UsageInput(
                    tenant_id=tenant_id,
                    meter=Meter.STORAGE_GB_MONTHS,
                    quantity=gib / days,
                    unit="GB-month",
                    start=start,
                    end=end,
                    idempotency_key=f"storage:{version.pk}:{start:%Y%m%d}",
                    resource_id=resource_id,
                    resource_name=f"{version.model.name} v{version.version} artifacts",
                    model_name=version.model.name,
                    model_version=version.version,
                    attributes={"bytes": version.artifact_size_bytes},
                )
            )
    return events


def _meter_each_tenant(build: Any, until: datetime) -> int:
    stored = 0
    for tenant_id in _tenant_ids():
        with tenant_scope(tenant_id):
            events = build(tenant_id, until)
        stored += usage_record_many(events)
    return stored


def meter_deployment_hours(*, until: datetime) -> int:
    """Record every deployment's finished live hours up to ``until``; returns how many were new."""
    return _meter_each_tenant(_deployment_hours, until)


def meter_monitoring(*, until: datetime) -> int:
    """Record monitored model-months of finished days up to ``until``."""
    return _meter_each_tenant(_monitoring, until)


def meter_storage(*, until: datetime) -> int:
    """Record artifact storage of finished days up to ``until``."""
    return _meter_each_tenant(_storage, until)


def metering_run(*, until: datetime) -> dict[str, int]:
    """Every meter of the portal up to ``until``: how many events each recorded."""
    return {
        Meter.DEPLOYMENT_HOURS: meter_deployment_hours(until=until),
        Meter.MONITORED_MODEL_MONTHS: meter_monitoring(until=until),
        Meter.STORAGE_GB_MONTHS: meter_storage(until=until),
    }
