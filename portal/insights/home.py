"""The home page's sections, one per role a person holds.

Engineer: their models, their deployments with state and drift, their open approval requests.
Tenant owner: the unit at a glance (spend this month against the budget, maturity level, models
by risk tier, open incidents). Governance lead: the inventory across units (its first page, with
its filters), the approval queue by age and risk, overdue re-certifications, open incidents, the
audit chain's last verification. Finance: statements to review, the month close's progress,
totals by unit and month, and the latest finalized statements with their exports. Platform
admin: units, MLflow sync health, price source health, capture drops.

Each section runs a fixed number of queries: cross-unit sections read every unit's rows in one
query each (only for the platform role that may), a person's own rows are read across the units
they belong to in one query each, and only the owner's glance runs once per unit they own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from chargeback.models import (
    Budget,
    PriceSource,
    Statement,
    StatementState,
)
from chargeback.selectors import MonthCloses, month_closes
from chargeback.services.budgets import MonthSpend, cents, month_spend_shown
from governance.models import (
    ApprovalRequest,
    AuditVerification,
    Incident,
    IncidentStatus,
    ModelCertification,
)
from governance.models.approvals import OPEN_APPROVAL_STATES, CertificationState
from portal.catalog.models import RegisteredModel, RiskTier, SyncRun
from portal.deployments.models import Deployment, DeploymentState, GatewayMinute
from portal.insights.filters import InventoryTable, inventory_table
from portal.insights.models import MaturityAssessment
from portal.insights.questions import BANDS, Band
from portal.monitoring.models import DriftRun
from portal.monitoring.selectors import DriftStatus, drift_status_by_deployment
from tenants.access import platform_role_of
from tenants.models import Membership, PlatformRole, Tenant, TenantRole
from tenants.scoping import tenant_scope
from tenants.selectors import TenantChoice

LISTED = 10
DONE_STATES = (DeploymentState.RETIRED, DeploymentState.CANCELLED, DeploymentState.REJECTED)
FINANCE_MONTHS = 3
DROP_WINDOW = timedelta(hours=24)


# --- engineer ---------------------------------------------------------------------------------


@dataclass
class EngineerPart:
    models: list[RegisteredModel] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    requests: list[ApprovalRequest] = field(default_factory=list)


def _drift_across(deployment_ids: list[int]) -> dict[int, DriftStatus]:
    # The ids are the person's own deployments in units they belong to: one query for all units.
    runs = DriftRun.objects.dangerously_across_tenants()
    return drift_status_by_deployment(deployment_ids, runs=runs)


def engineer_parts(user: Any, tenant_ids: list[int]) -> dict[int, EngineerPart]:
    """The person's own work in the given units (where they are members), by unit."""
    parts = {pk: EngineerPart() for pk in tenant_ids}
    if not tenant_ids:
        return parts
    # Cross-unit reads of the person's own rows, limited to the units they belong to.
    deployments = list(
        Deployment.objects.dangerously_across_tenants()
        .filter(tenant_id__in=tenant_ids, requested_by=user)
        .exclude(state__in=DONE_STATES)
        .select_related("model_version__model")
        .order_by("-created_at", "-id")[:LISTED]
    )
    drift = _drift_across([d.pk for d in deployments])
    for deployment in deployments:
        deployment.drift = drift[deployment.pk]  # type: ignore[attr-defined]
        parts[deployment.tenant_id].deployments.append(deployment)
    names = {n for n in (user.username, user.email, user.get_full_name()) if n}
    owned = Q()
    for name in names:
        owned |= Q(owner__iexact=name)
    mine = Deployment.objects.dangerously_across_tenants().filter(
        tenant_id__in=tenant_ids, requested_by=user
    )
    for model in (
        RegisteredModel.objects.dangerously_across_tenants()
        .filter(tenant_id__in=tenant_ids, gone_from_mlflow=False)
        .filter(owned | Q(pk__in=mine.values("model_version__model_id")))
        .annotate(version_count=Count("versions"))
        .order_by("name")[:LISTED]
    ):
        parts[model.tenant_id].models.append(model)
    for approval in (
        ApprovalRequest.objects.dangerously_across_tenants()
        .filter(tenant_id__in=tenant_ids, requested_by=user, state__in=OPEN_APPROVAL_STATES)
        .select_related("model_version__model", "deployment")
        .order_by("created_at", "id")[:LISTED]
    ):
        parts[approval.tenant_id].requests.append(approval)
    return parts


# --- tenant owner -----------------------------------------------------------------------------


@dataclass
class OwnerPart:
    spend: MonthSpend | None
    month_to_date: Decimal | None
    forecast: Decimal | None
    budget: Budget | None
    budget_percent: Decimal | None
    maturity: MaturityAssessment | None
    band: Band | None
    tiers: list[tuple[str, int]]
    open_incidents: list[Incident]
    open_incident_count: int


TIER_LABELS = list(RiskTier.choices)


def owner_part(tenant: Tenant) -> OwnerPart:
    with tenant_scope(tenant):
        spend = month_spend_shown(tenant=tenant)
        budget = Budget.objects.first()
        to_date = cents(spend.month_to_date)
        percent = (
            (to_date * 100 / budget.amount).quantize(Decimal(1))
            if budget and budget.amount
            else None
        )
        latest = MaturityAssessment.objects.order_by("-created_at", "-id").first()
        counts = dict(
            RegisteredModel.objects.filter(gone_from_mlflow=False)
            .values_list("risk_tier")
            .annotate(count=Count("pk"))
            .order_by()
        )
        tiers = [(label, counts.get(tier, 0)) for tier, label in TIER_LABELS]
        tiers.append(("Not classified", counts.get("", 0)))
        incidents = Incident.objects.exclude(status=IncidentStatus.RESOLVED).order_by(
            "-opened_at", "-id"
        )
        listed = list(incidents[:5])
        return OwnerPart(
            spend=spend,
            month_to_date=to_date,
            forecast=cents(spend.forecast),
            budget=budget,
            budget_percent=percent,
            maturity=latest,
            band=BANDS[latest.level] if latest else None,
            tiers=tiers,
            open_incidents=listed,
            open_incident_count=len(listed) if len(listed) < 5 else incidents.count(),
        )


@dataclass
class UnitSection:
    tenant: Tenant
    role: str
    role_label: str
    engineer: EngineerPart | None = None
    owner: OwnerPart | None = None


# --- governance lead --------------------------------------------------------------------------


@dataclass
class GovernanceSection:
    queue: list[ApprovalRequest]
    queue_counts: dict[str, int]
    overdue: list[ModelCertification]
    overdue_count: int
    incidents: list[Incident]
    incident_counts: dict[str, int]
    verification: AuditVerification | None
    inventory: InventoryTable


def governance_section(request: HttpRequest) -> GovernanceSection:
    # Governance leads see every unit: cross-unit reads, one query each; the inventory's first
    # page in a fixed number.
    now = timezone.now()
    approvals = ApprovalRequest.objects.dangerously_across_tenants().filter(
        state__in=OPEN_APPROVAL_STATES
    )
    counts = approvals.aggregate(
        total=Count("pk"),
        high=Count("pk", filter=Q(risk_tier=RiskTier.HIGH)),
        today=Count("pk", filter=Q(created_at__gte=now - timedelta(days=1))),
        week=Count(
            "pk",
            filter=Q(
                created_at__lt=now - timedelta(days=1), created_at__gte=now - timedelta(days=7)
            ),
        ),
        older=Count("pk", filter=Q(created_at__lt=now - timedelta(days=7))),
    )
    overdue = ModelCertification.objects.dangerously_across_tenants().filter(
        Q(state=CertificationState.OVERDUE) | Q(due_at__lt=now)
    )
    incidents = Incident.objects.dangerously_across_tenants().exclude(
        status=IncidentStatus.RESOLVED
    )
    by_severity = dict(incidents.values_list("severity").annotate(n=Count("pk")).order_by())
    return GovernanceSection(
        queue=list(
            approvals.select_related("tenant", "model_version__model").order_by(
                "risk_rank", "created_at", "id"
            )[:LISTED]
        ),
        queue_counts=counts,
        overdue=list(overdue.select_related("tenant", "model").order_by("due_at")[:LISTED]),
        overdue_count=overdue.count(),
        incidents=list(
            incidents.select_related("tenant").order_by("severity", "-opened_at")[:LISTED]
        ),
        incident_counts={"total": sum(by_severity.values()), **by_severity},
        verification=AuditVerification.objects.order_by("-started_at").first(),
        inventory=inventory_table(request, QueryDict()),
    )


# --- finance ----------------------------------------------------------------------------------


@dataclass
class FinanceRow:
    tenant: str
    slug: str
    cells: list[Decimal | None]


@dataclass
class FinanceSection:
    to_review: list[Statement]
    to_review_count: int
    months: list[date]
    rows: list[FinanceRow]
    month_totals: list[Decimal]
    closes: MonthCloses
    finalized: list[Statement]


def finance_section(*, months: int = FINANCE_MONTHS) -> FinanceSection:
    # Finance reviews every unit's statements: cross-unit reads, one query each.
    statements = Statement.objects.dangerously_across_tenants()
    pending = statements.filter(state__in=(StatementState.DRAFT, StatementState.IN_REVIEW))
    recent = sorted(
        set(
            statements.order_by("-period__month")
            .values_list("period__month", flat=True)
            .distinct()[:months]
        )
    )
    totals = (
        statements.filter(period__month__in=recent)
        .exclude(state=StatementState.VOID)
        .values("tenant__name", "tenant__slug", "period__month")
        .annotate(total=Sum("total"))
        .order_by("tenant__name")
    )
    table: dict[tuple[str, str], dict[date, Decimal]] = {}
    for row in totals:
        key = (row["tenant__name"], row["tenant__slug"])
        table.setdefault(key, {})[row["period__month"]] = row["total"]
    rows = [
        FinanceRow(name, slug, [cells.get(month) for month in recent])
        for (name, slug), cells in table.items()
    ]
    return FinanceSection(
        to_review=list(
            pending.select_related("tenant", "period").order_by("period__month", "tenant__name")[
                :LISTED
            ]
        ),
        to_review_count=pending.count(),
        months=recent,
        rows=rows,
        month_totals=[
            sum((row.cells[i] or Decimal(0) for row in rows), Decimal(0))
            for i in range(len(recent))
        ],
        closes=month_closes(months=months),
        finalized=list(
            statements.filter(state=StatementState.FINALIZED)
            .select_related("tenant", "period")
            .order_by("-period__month", "tenant__name")[:LISTED]
        ),
    )


# --- platform admin ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitHealth:
    tenant: Tenant
    models: int
    sync: SyncRun | None


@dataclass
class AdminSection:
    units: list[UnitHealth]
    failed_syncs: int
    price_sources: list[PriceSource]
    drops: list[dict[str, Any]]
    dropped_total: int
    closes: MonthCloses


def admin_section() -> AdminSection:
    # Platform admins see every unit: cross-unit reads, one query each.
    tenants = list(Tenant.objects.order_by("name"))
    models = dict(
        RegisteredModel.objects.dangerously_across_tenants()
        .filter(gone_from_mlflow=False)
        .values_list("tenant_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    runs = SyncRun.objects.dangerously_across_tenants()
    latest = runs.filter(tenant_id=OuterRef("tenant_id")).order_by("-started_at", "-id")
    syncs = {run.tenant_id: run for run in runs.filter(pk=Subquery(latest.values("pk")[:1]))}
    minutes = GatewayMinute.objects.dangerously_across_tenants().filter(
        minute__gte=timezone.now() - DROP_WINDOW
    )
    drops = list(
        minutes.values("tenant__name", "tenant__slug", "deployment_id", "deployment__name")
        .annotate(dropped=Sum("dropped"), captured=Sum("captured"))
        .filter(dropped__gt=0)
        .order_by("-dropped")[:LISTED]
    )
    return AdminSection(
        units=[UnitHealth(t, models.get(t.pk, 0), syncs.get(t.pk)) for t in tenants],
        failed_syncs=sum(1 for run in syncs.values() if run.status == "failed"),
        price_sources=list(PriceSource.objects.order_by("name")),
        drops=drops,
        dropped_total=minutes.aggregate(total=Sum("dropped"))["total"] or 0,
        closes=month_closes(months=FINANCE_MONTHS),
    )


# --- the page ---------------------------------------------------------------------------------


@dataclass
class Home:
    units: list[UnitSection]
    governance: GovernanceSection | None
    finance: FinanceSection | None
    admin: AdminSection | None
    choices: list[TenantChoice]
    platform_role: str


def home_for(request: HttpRequest, choices: list[TenantChoice]) -> Home:
    """Every section the roles of the person signed in give them."""
    user: Any = request.user
    role = platform_role_of(user)
    memberships = list(
        Membership.objects.dangerously_across_tenants()
        .filter(user_id=user.pk, tenant__active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    working = [
        m.tenant_id for m in memberships if m.role in (TenantRole.ENGINEER, TenantRole.OWNER)
    ]
    work = engineer_parts(user, working)
    units = []
    for membership in memberships:
        part = work.get(membership.tenant_id)
        show_work = membership.role == TenantRole.ENGINEER or (
            part is not None and (part.models or part.deployments or part.requests)
        )
        units.append(
            UnitSection(
                tenant=membership.tenant,
                role=membership.role,
                role_label=TenantRole(membership.role).label,
                engineer=part if show_work else None,
                owner=owner_part(membership.tenant)
                if membership.role == TenantRole.OWNER
                else None,
            )
        )
    return Home(
        units=units,
        governance=governance_section(request) if role == PlatformRole.GOVERNANCE_LEAD else None,
        finance=finance_section() if role == PlatformRole.FINANCE else None,
        admin=admin_section() if role == PlatformRole.PLATFORM_ADMIN else None,
        choices=choices,
        platform_role=role,
    )
