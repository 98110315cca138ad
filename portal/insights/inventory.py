"""One inventory across units: every registered model of every unit, for governance leads and
platform admins, with what governing it needs at a glance.

A row holds the unit, the model, its risk tier and who set it, open tier proposals, its
deployments counted by state and its live revisions by environment, the approval requests still
open and the soonest of their expiries, its certification (state and re-certification due date),
the card of its newest version, the drift monitoring of its live endpoints with the newest
verdict, and its open incidents.

The list reads across units through the platform-wide path (``dangerously_across_tenants``, with
PostgreSQL's cross-tenant flag) limited by ``unit_records_visible_to``; its callers are views
open to ``INVENTORY_READERS`` only. Filters and sorts work on aliases that reach the SQL only when
a filter or the sort uses them (``portal.insights.filters.InventoryFilter``). A page then costs a
fixed number of queries whatever its size: its ids (and their count), then ``inventory_rows``:
one annotated query of the page's models, one aggregate of their deployments, and one per
governance selector (who set the tier, open proposals).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from governance.models import (
    ApprovalRequest,
    CardStatus,
    ClassificationAuthority,
    Incident,
    IncidentStatus,
    ModelCertification,
    RiskClassification,
    TierProposal,
)
from governance.models.approvals import OPEN_APPROVAL_STATES
from governance.selectors import open_tier_proposal_counts, tier_setters
from portal.catalog.models import ModelVersion, RegisteredModel, RiskTier
from portal.deployments.models import Deployment, DeploymentState, Environment
from portal.monitoring.models import DriftRun, Monitor
from portal.monitoring.selectors import FINISHED
from tenants.access import GOVERNANCE_ROLES
from tenants.selectors import unit_records_visible_to

INVENTORY_READERS = GOVERNANCE_ROLES
INVENTORY_DENIED = "The inventory across units is open to governance leads and platform admins."
TIER_ORDER = [RiskTier.PROHIBITED, RiskTier.HIGH, RiskTier.LIMITED, RiskTier.MINIMAL]
DEFAULT_ORDER = ("tier_rank", "tenant__name", "name", "pk")
EXPORT_CHUNK = 500


# --- the expressions, each over one model (``OuterRef("pk")``) --------------------------------


def _counted(rows: QuerySet[Any]) -> Coalesce:
    # COUNT(*) of a correlated subquery, without the GROUP BY an aggregate would bring.
    return Coalesce(
        Subquery(rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1]),
        0,
        output_field=IntegerField(),
    )


def _deployments() -> QuerySet[Deployment]:
    return Deployment.objects.dangerously_across_tenants().filter(
        model_version__model_id=OuterRef("pk")
    )


def live_deployments(environment: str | None = None) -> QuerySet[Deployment]:
    """The model's live revisions (in ``environment`` when given)."""
    live = _deployments().filter(state=DeploymentState.LIVE)
    return live if environment is None else live.filter(environment=environment)


def open_incidents() -> QuerySet[Incident]:
    return (
        Incident.objects.dangerously_across_tenants()
        .filter(model_id=OuterRef("pk"))
        .exclude(status=IncidentStatus.RESOLVED)
    )


def _open_approvals() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.dangerously_across_tenants().filter(
        model_version__model_id=OuterRef("pk"), state__in=OPEN_APPROVAL_STATES
    )


def _newest_version() -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.dangerously_across_tenants()
        .filter(model_id=OuterRef("pk"))
        .order_by("-version")
    )


def _newest_verdict() -> QuerySet[DriftRun]:
    return (
        DriftRun.objects.dangerously_across_tenants()
        .filter(deployment__model_version__model_id=OuterRef("pk"), status__in=FINISHED)
        .order_by("-created_at", "-id")
    )


def _monitors() -> QuerySet[Monitor]:
    # Monitors watch endpoints by name; the model's are those with a live revision of it.
    endpoints = (
        Deployment.objects.dangerously_across_tenants()
        .filter(model_version__model_id=OuterRef(OuterRef("pk")), state=DeploymentState.LIVE)
        .values("name")
    )
    return Monitor.objects.dangerously_across_tenants().filter(
        tenant_id=OuterRef("tenant_id"), endpoint__in=endpoints
    )


def card_state() -> Subquery:
    """The state of the newest version's card; NULL when it has none."""
    return Subquery(_newest_version().values("card__status")[:1])


def verdict() -> Subquery:
    """The drift status of the newest finished run of any of the model's deployments."""
    return Subquery(_newest_verdict().values("drift_status")[:1])


def soonest_approval_expiry() -> Subquery:
    """When the first of the model's open approval requests expires; NULL when none is open."""
    return Subquery(_open_approvals().order_by("expires_at").values("expires_at")[:1])


def tier_rank() -> Case:
    """Riskiest first; models not classified last."""
    return Case(
        *(When(risk_tier=tier, then=Value(rank)) for rank, tier in enumerate(TIER_ORDER)),
        default=Value(len(TIER_ORDER)),
        output_field=IntegerField(),
    )


# What the filters and sorts use; an alias reaches the SQL only when one of them does.
SORT_ALIASES = {
    "tier_rank": tier_rank,
    "live_count": lambda: _counted(live_deployments()),
    "open_incident_count": lambda: _counted(open_incidents()),
    "approval_expiry": soonest_approval_expiry,
    "card_state": card_state,
    "verdict": verdict,
}


def inventory_listed(principal: Any) -> QuerySet[RegisteredModel]:
    """Every registered model of every unit ``principal`` may see (every unit's for the
    ``INVENTORY_READERS``), riskiest first, then by unit and name. Models gone from MLflow are
    left out, as everywhere the catalog is counted."""
    models = (
        RegisteredModel.objects.dangerously_across_tenants()
        .filter(gone_from_mlflow=False)
        .alias(**{name: build() for name, build in SORT_ALIASES.items()})
        .order_by(*DEFAULT_ORDER)
    )
    return unit_records_visible_to(principal, models, readers=INVENTORY_READERS)


def inventory_ids(models: QuerySet[RegisteredModel]) -> QuerySet[Any]:
    """The ids of a filtered ``inventory_listed``, in its order: what a page slices, before
    ``inventory_rows`` reads the page's rows."""
    return models.values_list("pk", flat=True)


# --- a page's rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryRow:
    model: RegisteredModel  # with its tenant
    tier_set_by: str  # the person; "" when never classified
    tier_set_by_authority: (
        str  # ClassificationAuthority (unit, governance); "" when never classified
    )
    open_tier_proposals: int
    deployments: dict[str, int]  # every deployment state -> revisions in it
    live: dict[str, int]  # every environment -> live revisions
    open_approvals: int
    approval_expiry: datetime | None  # the soonest expiry of the open requests
    certification: ModelCertification | None
    card_version: int | None  # the newest version, whose card is shown
    card_state: str | None  # None: that version has no card
    monitor_state: str  # on, off (every monitor disabled), none
    verdict: str | None  # the newest finished drift run's status; None: no run finished
    verdict_at: datetime | None
    open_incidents: int

    @property
    def tier_set_by_label(self) -> str:
        """Who set the tier in words: "governance (grace)", "the unit (amir)", or ""."""
        if not self.tier_set_by_authority:
            return ""
        authority = _label(ClassificationAuthority.choices, self.tier_set_by_authority, "")
        return f"{authority} ({self.tier_set_by})"

    @property
    def live_total(self) -> int:
        return sum(self.live.values())

    @property
    def card_label(self) -> str:
        return _label(CardStatus.choices, self.card_state, "no card")

    @property
    def deployments_shown(self) -> list[tuple[str, int]]:
        """The states the model has revisions in, in words, with their counts."""
        labels = dict(DeploymentState.choices)
        return [(labels.get(state, state), n) for state, n in self.deployments.items() if n]

    @property
    def live_shown(self) -> list[tuple[str, int]]:
        """The environments the model is live in, in words, with their live revisions."""
        labels = dict(Environment.choices)
        return [(labels.get(env, env), n) for env, n in self.live.items() if n]


def _deployment_counts(
    model_ids: list[int],
) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    """Revisions by state, and live revisions by environment, of each model: one aggregate, so
    a new deployment state is one more key."""
    by_state = {pk: dict.fromkeys(DeploymentState.values, 0) for pk in model_ids}
    live = {pk: dict.fromkeys(Environment.values, 0) for pk in model_ids}
    counts = (
        Deployment.objects.dangerously_across_tenants()
        .filter(model_version__model_id__in=model_ids)
        .values_list("model_version__model_id", "environment", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for model_id, environment, state, n in counts:
        by_state[model_id][state] = by_state[model_id].get(state, 0) + n
        if state == DeploymentState.LIVE:
            live[model_id][environment] = live[model_id].get(environment, 0) + n
    return by_state, live


def _monitor_state(monitors: int, enabled: int) -> str:
    return "on" if enabled else "off" if monitors else "none"


def inventory_rows(model_ids: Sequence[int]) -> list[InventoryRow]:
    """The rows of the models ``model_ids`` (a page of ``inventory_ids``), in that order: four
    queries whatever their number (the models annotated, their deployments' aggregate, who set
    their tiers, their open tier proposals)."""
    ids = list(model_ids)
    if not ids:
        return []
    annotated = {
        model.pk: model
        for model in RegisteredModel.objects.dangerously_across_tenants()
        .filter(pk__in=ids)
        .select_related("tenant", "certification")
        .only(
            "name",
            "risk_tier",
            "tenant__name",
            "tenant__slug",
            "tenant_id",
            "certification__state",
            "certification__due_at",
            "certification__certified_at",
        )
        .annotate(
            card_version=Subquery(_newest_version().values("version")[:1]),
            card_state=card_state(),
            verdict=verdict(),
            verdict_at=Subquery(_newest_verdict().values("finished_at")[:1]),
            monitors=_counted(_monitors()),
            monitors_on=_counted(_monitors().filter(enabled=True)),
            open_approvals=_counted(_open_approvals()),
            approval_expiry=soonest_approval_expiry(),
            open_incidents=_counted(open_incidents()),
        )
    }
    by_state, live = _deployment_counts(ids)
    setters = tier_setters(
        ids, classifications=RiskClassification.objects.dangerously_across_tenants()
    )
    proposals = open_tier_proposal_counts(
        ids, proposals=TierProposal.objects.dangerously_across_tenants()
    )
    rows = []
    for pk in ids:
        model: Any = annotated[pk]
        rows.append(
            InventoryRow(
                model=model,
                tier_set_by=setters.get(pk, ("", ""))[1],
                tier_set_by_authority=setters.get(pk, ("", ""))[0],
                open_tier_proposals=proposals.get(pk, 0),
                deployments=by_state[pk],
                live=live[pk],
                open_approvals=model.open_approvals,
                approval_expiry=model.approval_expiry,
                certification=getattr(model, "certification", None),
                card_version=model.card_version,
                card_state=model.card_state,
                monitor_state=_monitor_state(model.monitors, model.monitors_on),
                verdict=model.verdict,
                verdict_at=model.verdict_at,
                open_incidents=model.open_incidents,
            )
        )
    return rows


def inventory_all_rows(models: QuerySet[RegisteredModel]) -> Iterator[InventoryRow]:
    """Every row of a filtered inventory (for the export), a chunk of models at a time."""
    ids = list(inventory_ids(models))
    for start in range(0, len(ids), EXPORT_CHUNK):
        yield from inventory_rows(ids[start : start + EXPORT_CHUNK])


# --- the export ---------------------------------------------------------------------------------


def _label(choices: Iterable[tuple[str, str]], value: str | None, empty: str) -> str:
    return dict(choices).get(value or "", value or empty)


def export_header() -> list[str]:
    return [
        "unit",
        "model",
        "risk tier",
        "tier set by",
        "open tier proposals",
        *(f"live in {label.lower()}" for _, label in Environment.choices),
        *(f"deployments {label.lower()}" for _, label in DeploymentState.choices),
        "open approval requests",
        "soonest approval expiry",
        "certification",
        "re-certification due",
        "card version",
        "card state",
        "drift monitor",
        "last drift verdict",
        "verdict at",
        "open incidents",
    ]


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def export_row(row: InventoryRow) -> list[Any]:
    certification = row.certification
    return [
        row.model.tenant.name,
        row.model.name,
        _label(RiskTier.choices, row.model.risk_tier, "not classified"),
        row.tier_set_by_label,
        row.open_tier_proposals,
        *(row.live.get(env, 0) for env in Environment.values),
        *(row.deployments.get(state, 0) for state in DeploymentState.values),
        row.open_approvals,
        _when(row.approval_expiry),
        certification.get_state_display() if certification else "not certified",
        _when(certification.due_at if certification else None),
        row.card_version or "",
        row.card_label,
        row.monitor_state,
        row.verdict or "no run",
        _when(row.verdict_at),
        row.open_incidents,
    ]
