"""The seeds' 12-month ROI estimate, in ``Decimal``, fed with what the portal measured.

    time_saved_per_model = weeks_to_production_before - weeks_to_production_with_platform
    cost_per_week_team   = team_size x avg_salary / 52
    deployment_savings   = time_saved_per_model x cost_per_week_team x models_per_year
    incident_savings     = incidents_per_year x avg_incident_cost x incident_reduction
    total_benefits       = deployment_savings + incident_savings
    roi_percent          = (total_benefits - investment) / investment x 100

Measured inputs (the last 12 months of the tenant): weeks to production with the platform is
the median time from a version's registration in the catalog to its first production revision
going live; models per year counts the models that went live in production; incidents per year
counts the incidents drift monitoring opened. Where nothing is measured yet the owner's entered
value stands in, and the page says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q
from django.utils import timezone

from governance.models import Incident
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor, audit_record
from portal.core.errors import InvalidRequest
from portal.deployments.models import Deployment, Environment
from portal.insights.models import RoiInputs
from portal.monitoring.models import Monitor
from tenants.models import Tenant

WEEKS_PER_YEAR = Decimal(52)
HUNDRED = Decimal(100)
YEAR = timedelta(days=365)
WEEK_SECONDS = Decimal(7 * 24 * 3600)
# The inputs an owner enters, in the order the form and the API take them.
EDITABLE = (
    "team_size",
    "avg_salary",
    "weeks_to_production_before",
    "avg_incident_cost",
    "incident_reduction",
    "investment",
    "models_per_year",
    "weeks_to_production_with_platform",
    "incidents_per_year",
)
MEASURED = ("weeks_to_production_with_platform", "models_per_year", "incidents_per_year")


@dataclass(frozen=True)
class RoiFigures:
    team_size: Decimal
    avg_salary: Decimal
    models_per_year: Decimal
    weeks_to_production_before: Decimal
    weeks_to_production_with_platform: Decimal
    incidents_per_year: Decimal
    avg_incident_cost: Decimal
    investment: Decimal
    incident_reduction: Decimal = Decimal("0.75")


@dataclass(frozen=True)
class RoiEstimate:
    figures: RoiFigures
    time_saved_per_model: Decimal
    cost_per_week_team: Decimal
    deployment_savings: Decimal
    incident_savings: Decimal
    total_benefits: Decimal
    roi_percent: Decimal | None  # None when there is no investment to return on
    measured: dict[str, bool] = field(default_factory=dict)


def roi_estimate(figures: RoiFigures, *, measured: dict[str, bool] | None = None) -> RoiEstimate:
    """The 12-month estimate, unrounded (divisions come last so the seeds' figures stay exact)."""
    saved = figures.weeks_to_production_before - figures.weeks_to_production_with_platform
    team_year = Decimal(figures.team_size) * figures.avg_salary
    deployment = saved * team_year * figures.models_per_year / WEEKS_PER_YEAR
    incidents = figures.incidents_per_year * figures.avg_incident_cost * figures.incident_reduction
    total = deployment + incidents
    roi = (
        (total - figures.investment) * HUNDRED / figures.investment if figures.investment else None
    )
    return RoiEstimate(
        figures=figures,
        time_saved_per_model=saved,
        cost_per_week_team=team_year / WEEKS_PER_YEAR,
        deployment_savings=deployment,
        incident_savings=incidents,
        total_benefits=total,
        roi_percent=roi,
        measured=measured or {},
    )


def whole(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def one_place(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Measurements:
    weeks_to_production_with_platform: Decimal | None
    versions_measured: int
    models_per_year: Decimal | None
    incidents_per_year: Decimal | None


def _weeks(duration: timedelta) -> Decimal:
    return one_place(Decimal(max(duration.total_seconds(), 0.0)) / WEEK_SECONDS)


def roi_measurements(*, now: Any = None) -> Measurements:
    """The platform-side inputs over the last 12 months (inside the tenant's scope)."""
    since = (now or timezone.now()) - YEAR
    leads = list(
        ModelVersion.objects.annotate(
            first_live=Min(
                "deployments__live_from",
                filter=Q(deployments__environment=Environment.PRODUCTION),
            )
        )
        .filter(first_live__gte=since)
        .annotate(lead=ExpressionWrapper(F("first_live") - F("created_at"), DurationField()))
        .values_list("lead", flat=True)
    )
    models = Deployment.objects.filter(
        environment=Environment.PRODUCTION, live_from__gte=since
    ).aggregate(count=Count("model_version__model", distinct=True))["count"]
    monitored = Monitor.objects.filter(enabled=True).exists()
    incidents = Incident.objects.filter(source="drift", opened_at__gte=since).count()
    return Measurements(
        weeks_to_production_with_platform=_weeks(statistics.median(leads)) if leads else None,
        versions_measured=len(leads),
        models_per_year=Decimal(models) if models else None,
        incidents_per_year=Decimal(incidents) if monitored or incidents else None,
    )


def roi_inputs_of(tenant: Tenant) -> RoiInputs:
    """The tenant's saved inputs, or the seeds' example figures (unsaved) until an owner saves."""
    return RoiInputs.objects.filter(tenant=tenant).first() or RoiInputs(tenant=tenant)


def tenant_roi(tenant: Tenant) -> tuple[RoiEstimate, RoiInputs, Measurements]:
    """The tenant's estimate: measured platform-side inputs where there are any, else entered."""
    inputs = roi_inputs_of(tenant)
    found = roi_measurements()
    figures: dict[str, Decimal] = {name: Decimal(getattr(inputs, name)) for name in EDITABLE}
    measured = {}
    for name in MEASURED:
        value = getattr(found, name)
        measured[name] = value is not None
        if value is not None:
            figures[name] = value
    return roi_estimate(RoiFigures(**figures), measured=measured), inputs, found


def _check(values: dict[str, Any]) -> None:
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise InvalidRequest(f"These inputs cannot be set: {', '.join(unknown)}.")
    reduction = values.get("incident_reduction")
    if reduction is not None and not Decimal(0) <= Decimal(reduction) <= Decimal(1):
        raise InvalidRequest("incident_reduction is a share from 0 to 1 (0.75 for 75%).")
    for name, value in values.items():
        if Decimal(value) < 0:
            raise InvalidRequest(f"{name} cannot be negative.")


@transaction.atomic
def roi_inputs_save(*, actor: Actor, tenant: Tenant, values: dict[str, Any]) -> RoiInputs:
    """Save the owner's inputs (the ones given; the rest keep their value) and audit the change."""
    _check(values)
    inputs = RoiInputs.objects.select_for_update().filter(tenant=tenant).first()
    created = inputs is None
    inputs = inputs or RoiInputs(tenant=tenant)
    before, after = {}, {}
    for name, value in values.items():
        if getattr(inputs, name) != value or created:
            before[name], after[name] = getattr(inputs, name), value
            setattr(inputs, name, value)
    if not after:
        return inputs
    inputs.updated_by_label = actor.label
    inputs.updated_at = timezone.now()
    inputs.save()
    audit_record(
        actor=actor,
        action="roi_inputs.updated",
        object_type="roi_inputs",
        object_id=inputs.pk,
        tenant_id=tenant.pk,
        before=None if created else before,
        after=after,
    )
    return inputs


def _money(amount: Decimal) -> str:
    return f"{whole(amount):,}"


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{one_place(value)}"


def roi_formula(estimate: RoiEstimate) -> list[str]:
    """The formula with the tenant's figures in it, one line per step, as the page shows it."""
    f = estimate.figures
    roi = (
        f"{one_place(estimate.roi_percent)}%"
        if estimate.roi_percent is not None
        else "not defined (no investment)"
    )
    return [
        f"time_saved_per_model = {_number(f.weeks_to_production_before)} - "
        f"{_number(f.weeks_to_production_with_platform)} = "
        f"{_number(estimate.time_saved_per_model)} weeks",
        f"cost_per_week_team = {_number(f.team_size)} x {_money(f.avg_salary)} / 52 = "
        f"{_money(estimate.cost_per_week_team)}",
        f"deployment_savings = {_number(estimate.time_saved_per_model)} x "
        f"{_money(estimate.cost_per_week_team)} x {_number(f.models_per_year)} = "
        f"{_money(estimate.deployment_savings)}",
        f"incident_savings = {_number(f.incidents_per_year)} x {_money(f.avg_incident_cost)} x "
        f"{f.incident_reduction.normalize():f} = {_money(estimate.incident_savings)}",
        f"total_benefits = {_money(estimate.deployment_savings)} + "
        f"{_money(estimate.incident_savings)} = {_money(estimate.total_benefits)}",
        f"roi = ({_money(estimate.total_benefits)} - {_money(f.investment)}) / "
        f"{_money(f.investment)} x 100 = {roi}",
    ]
