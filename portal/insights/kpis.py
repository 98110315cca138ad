"""Platform KPIs by month, per tenant and overall, from aggregate queries only.

    deployment frequency    revisions that went live in the month
    lead time               average time from a deployment's request to its going live
    change failure rate     (rollbacks + failed rollouts) / rollouts started, in the month
    time to resolve         average time from an incident's opening to its resolution, by the
                            month it was resolved in
    models                  registered models (not gone from MLflow) at the end of the month

Frequency, lead time and failure rate count one environment (production unless asked
otherwise). Rollouts, rollbacks and failures come from the audit trail's deployment events, so
a revision retired after its rollback still counts. Each figure is one grouped query over every
tenant asked for, whatever the number of tenants or rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Model,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, TruncMonth
from django.utils import timezone

from governance.models import AuditEvent, Incident
from portal.catalog.models import RegisteredModel
from portal.deployments.models import Deployment, Environment
from tenants.access import GOVERNANCE_ROLES
from tenants.models import Tenant

# Who reads the platform's KPIs; a unit's own are for anyone who may read the unit.
KPI_READERS = GOVERNANCE_ROLES
ROLLOUT, ROLLBACK, FAILURE = "deployment.deploying", "deployment.rolled_back", "deployment.failed"
MAX_MONTHS = 36


@dataclass
class MonthKpi:
    month: date
    deployments: int = 0
    lead_time_total: timedelta = timedelta(0)
    rollouts: int = 0
    failures: int = 0
    incidents_resolved: int = 0
    resolve_time_total: timedelta = timedelta(0)
    models: int = 0

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def lead_time_hours(self) -> Decimal | None:
        return _hours(self.lead_time_total, self.deployments)

    @property
    def time_to_resolve_hours(self) -> Decimal | None:
        return _hours(self.resolve_time_total, self.incidents_resolved)

    @property
    def change_failure_rate(self) -> Decimal | None:
        """Percent, one decimal; None in a month without rollouts."""
        if not self.rollouts:
            return None
        rate = Decimal(self.failures) * 100 / Decimal(self.rollouts)
        return rate.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def add(self, other: MonthKpi) -> None:
        self.deployments += other.deployments
        self.lead_time_total += other.lead_time_total
        self.rollouts += other.rollouts
        self.failures += other.failures
        self.incidents_resolved += other.incidents_resolved
        self.resolve_time_total += other.resolve_time_total
        self.models += other.models


def _hours(total: timedelta, count: int) -> Decimal | None:
    if not count:
        return None
    hours = Decimal(total.total_seconds()) / Decimal(3600) / Decimal(count)
    return hours.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class TenantKpis:
    tenant: Tenant
    months: list[MonthKpi] = field(default_factory=list)


@dataclass
class KpiReport:
    months: list[date]
    environment: str
    overall: list[MonthKpi]
    tenants: list[TenantKpis]


def month_starts(count: int, now: datetime) -> list[date]:
    """The first days of the last ``count`` months, oldest first, ending with the current one."""
    year, month = now.astimezone(UTC).year, now.astimezone(UTC).month
    starts = []
    for _ in range(count):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def _aware(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month_key(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _rows(model: type[Model], across: bool) -> QuerySet:
    # Platform-wide KPIs read every tenant's rows; callers checked the platform role first.
    manager: Any = model._default_manager
    return manager.dangerously_across_tenants() if across else manager.all()


def kpi_report(
    *,
    tenants: list[Tenant],
    across: bool,
    months: int = 12,
    environment: str = Environment.PRODUCTION,
    now: datetime | None = None,
) -> KpiReport:
    """KPIs of ``tenants`` by month. ``across`` reads every tenant's rows (platform-wide callers);
    otherwise the queries run inside the one tenant's scope."""
    now = now or timezone.now()
    starts = month_starts(max(1, min(months, MAX_MONTHS)), now)
    since = _aware(starts[0])
    ids = [tenant.pk for tenant in tenants]
    table: dict[int, dict[date, MonthKpi]] = {
        pk: {start: MonthKpi(start) for start in starts} for pk in ids
    }

    def cell(tenant_id: int, month: Any) -> MonthKpi | None:
        return table.get(tenant_id, {}).get(_month_key(month))

    deployments = _rows(Deployment, across).filter(tenant_id__in=ids)
    if environment:
        deployments = deployments.filter(environment=environment)
    lead = ExpressionWrapper(F("live_from") - F("created_at"), DurationField())
    for row in (
        deployments.filter(live_from__gte=since)
        .annotate(month=TruncMonth("live_from"))
        .values("tenant_id", "month")
        .annotate(count=Count("pk"), lead=Sum(lead))
        .order_by()
    ):
        if found := cell(row["tenant_id"], row["month"]):
            found.deployments, found.lead_time_total = row["count"], row["lead"] or timedelta(0)

    keys = deployments.annotate(key=Cast("pk", output_field=CharField())).values("key")
    for row in (
        _rows(AuditEvent, across)
        .filter(
            tenant_id__in=ids,
            action__in=(ROLLOUT, ROLLBACK, FAILURE),
            object_type="deployment",
            created_at__gte=since,
            object_id__in=keys,
        )
        .annotate(month=TruncMonth("created_at"))
        .values("tenant_id", "month", "action")
        .annotate(count=Count("pk"))
        .order_by()
    ):
        if found := cell(row["tenant_id"], row["month"]):
            if row["action"] == ROLLOUT:
                found.rollouts += row["count"]
            else:
                found.failures += row["count"]

    resolve = ExpressionWrapper(F("resolved_at") - F("opened_at"), DurationField())
    for row in (
        _rows(Incident, across)
        .filter(tenant_id__in=ids, resolved_at__gte=since)
        .annotate(month=TruncMonth("resolved_at"))
        .values("tenant_id", "month")
        .annotate(count=Count("pk"), total=Sum(resolve))
        .order_by()
    ):
        if found := cell(row["tenant_id"], row["month"]):
            found.incidents_resolved = row["count"]
            found.resolve_time_total = row["total"] or timedelta(0)

    ends = [_aware(start) for start in starts[1:]] + [now]
    counts = {
        f"m{index}": Count(
            "pk", filter=Q(created_at__lt=end) & (Q(gone_from_mlflow=False) | Q(gone_at__gte=end))
        )
        for index, end in enumerate(ends)
    }
    for row in (
        _rows(RegisteredModel, across)
        .filter(tenant_id__in=ids)
        .values("tenant_id")
        .annotate(**counts)
        .order_by()
    ):
        for index, start in enumerate(starts):
            table[row["tenant_id"]][start].models = row[f"m{index}"]

    overall = [MonthKpi(start) for start in starts]
    for pk in ids:
        for total, month in zip(overall, table[pk].values(), strict=True):
            total.add(month)
    return KpiReport(
        months=starts,
        environment=environment,
        overall=overall,
        tenants=[TenantKpis(tenant, list(table[tenant.pk].values())) for tenant in tenants],
    )
