"""Rating: a month's usage, summed in one GROUP BY, priced into one charge per tenant, resource,
meter (and correction flag).

    deployment hours   list = instance-hours x the instance type's hourly list price (the best
                       source for the deployment's target); contracted = list + markup
    requests           priced only when the catalog has an inference price per 1,000 requests
                       (list + markup); otherwise shown with a cost of 0
    compute seconds    shown with a cost of 0: the instance is billed by its hours
    storage            list = GB-months x the catalog's storage price; contracted = the rate
                       card's storage price when it sets one, else list + markup
    monitoring         list = model-months x the catalog's monitoring price; contracted =
                       model-months x the rate card's monitoring fee
    platform overhead  the rate card's monthly overhead, spread over tenants evenly (active
                       tenants), by usage (contracted cost) or by fixed weights

Billed cost = contracted cost. Every amount stays an unrounded Decimal; statements round lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from chargeback import selectors
from chargeback.models import (
    BillingPeriod,
    Charge,
    Meter,
    OverheadAllocation,
    PriceItem,
    PriceService,
    PriceSource,
    PricingUnit,
    RateCard,
    UsageEvent,
)
from chargeback.services.bulk import insert_new
from chargeback.services.metering import METER_UNITS
from chargeback.services.prices import price_catalog_ensure
from portal.catalog.models import ModelVersion
from portal.deployments.models import Deployment, Target
from tenants.models import Tenant

PLATFORM_SERVICE = "platform"
MODEL_VERSION = "model-version/"
SERVICE_OF_METER: dict[str, str] = {
    Meter.DEPLOYMENT_HOURS: PriceService.INFERENCE,
    Meter.REQUESTS: PriceService.INFERENCE,
    Meter.COMPUTE_SECONDS: PriceService.INFERENCE,
    Meter.MONITORED_MODEL_MONTHS: PriceService.MONITORING,
    Meter.STORAGE_GB_MONTHS: PriceService.STORAGE,
    Meter.PLATFORM_OVERHEAD: PLATFORM_SERVICE,
}
ZERO = Decimal(0)
HUNDRED = Decimal(100)
THOUSAND = Decimal(1000)


@dataclass(frozen=True)
class Rate:
    item: PriceItem | None
    list_unit: Decimal | None
    contracted_unit: Decimal | None


class PriceBook:
    """The unit prices of one close, looked up once per meter, target and instance type."""

    def __init__(self, card: RateCard) -> None:
        self.card = card
        self.markup = Decimal(1) + card.markup_percent / HUNDRED
        self._rates: dict[tuple[str, str, str], Rate] = {}
        self._firsts: dict[tuple[str, str], PriceItem | None] = {}
        self._sources: list[PriceSource] | None = None

    def rate(self, meter: str, target: str, instance_type: str) -> Rate:
        key = (meter, target, instance_type)
        if key not in self._rates:
            self._rates[key] = self._look_up(meter, target, instance_type)
        return self._rates[key]

    def _first(self, service: str, unit: str) -> PriceItem | None:
        # The same for every target and instance type: looked up once per service and unit.
        if (service, unit) not in self._firsts:
            self._firsts[(service, unit)] = (
                selectors.prices_in_force(service=service)
                .filter(pricing_unit=unit, currency=self.card.currency)
                .first()
            )
        return self._firsts[(service, unit)]

    def _look_up(self, meter: str, target: str, instance_type: str) -> Rate:
        card = self.card
        if meter == Meter.DEPLOYMENT_HOURS:
            if self._sources is None:
                self._sources = list(selectors.sources_in_force())
            item = selectors.hourly_price(
                target=target,
                instance_type=instance_type,
                service=PriceService.INFERENCE,
                sources=self._sources,
            )
            if item is None or item.currency != card.currency:
                return Rate(None, None, None)
            return Rate(item, item.unit_price, item.unit_price * self.markup)
        if meter == Meter.REQUESTS:
            item = self._first(PriceService.INFERENCE, PricingUnit.THOUSAND_REQUESTS)
            if item is None:
                return Rate(None, None, None)
            per_request = item.unit_price / THOUSAND
            return Rate(item, per_request, per_request * self.markup)
        if meter == Meter.STORAGE_GB_MONTHS:
            item = self._first(PriceService.STORAGE, PricingUnit.GB_MONTH)
            list_unit = item.unit_price if item else card.storage_price_per_gb_month
            if card.storage_price_per_gb_month is not None:
                return Rate(item, list_unit, card.storage_price_per_gb_month)
            return Rate(item, list_unit, list_unit * self.markup if list_unit is not None else None)
        if meter == Meter.MONITORED_MODEL_MONTHS:
            item = self._first(PriceService.MONITORING, PricingUnit.MODEL_MONTH)
            list_unit = item.unit_price if item else card.monitoring_fee_per_model_month
            return Rate(item, list_unit, card.monitoring_fee_per_model_month)
        return Rate(None, None, None)


def usage_totals(period: BillingPeriod) -> list[dict[str, Any]]:
    """The period's usage summed per tenant, meter, resource and correction flag (one query).

    Only sums: names come from the catalog afterwards (``_resources``), which keeps the one pass
    over the month's usage as cheap as a bare aggregation.
    """
    # The close is platform-wide: it reads every tenant's usage of the month, by design.
    return list(
        UsageEvent.objects.dangerously_across_tenants()
        .filter(charge_period=period.month)
        .values("tenant_id", "meter", "resource_id", "deployment_id", "correction")
        .annotate(total=Sum("quantity"))
        .order_by()
    )


def _deployments(deployment_ids: set[int]) -> dict[str, dict[str, Any]]:
    """Each deployment's target (it picks the price source), instance type and names."""
    # The close rates every tenant's usage; it reads only these fields of their deployments.
    rows = (
        Deployment.objects.dangerously_across_tenants()
        .filter(pk__in=deployment_ids)
        .values(
            "pk",
            "target",
            "name",
            "revision",
            "environment",
            "instance_type",
            "model_version__version",
            "model_version__model__name",
        )
    )
    return {
        f"deployment/{row['pk']}": {
            "target": row["target"],
            "name": f"{row['name']} r{row['revision']} ({row['environment']})",
            "instance": row["instance_type"],
            "model": row["model_version__model__name"],
            "version": row["model_version__version"],
        }
        for row in rows
    }


def _model_versions(resource_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Names of the model versions whose artifacts are stored (``model-version/<id>``)."""
    ids = {
        int(rid.removeprefix(MODEL_VERSION))
        for rid in resource_ids
        if rid.startswith(MODEL_VERSION)
    }
    if not ids:
        return {}
    # Names only, of the versions (any tenant's) with usage in the month being closed.
    rows = (
        ModelVersion.objects.dangerously_across_tenants()
        .filter(pk__in=ids)
        .values("pk", "version", "model__name")
    )
    return {
        f"{MODEL_VERSION}{row['pk']}": {
            "target": Target.LOCAL,
            "name": f"{row['model__name']} v{row['version']} artifacts",
            "instance": "",
            "model": row["model__name"],
            "version": row["version"],
        }
        for row in rows
    }


def _resources(totals: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each resource of the month is called and runs on, by resource id."""
    named = _deployments({row["deployment_id"] for row in totals if row["deployment_id"]})
    named.update(_model_versions({row["resource_id"] for row in totals}))
    return named


def _charge(
    period: BillingPeriod, card: RateCard, row: dict[str, Any], facts: dict[str, Any], rate: Rate
) -> Charge:
    quantity = row["total"]
    list_cost = quantity * rate.list_unit if rate.list_unit is not None else ZERO
    contracted = quantity * rate.contracted_unit if rate.contracted_unit is not None else ZERO
    return Charge(
        tenant_id=row["tenant_id"],
        period=period,
        meter=row["meter"],
        service=SERVICE_OF_METER.get(row["meter"], PLATFORM_SERVICE),
        resource_id=row["resource_id"],
        resource_name=facts.get("name", row["resource_id"])[:200],
        deployment_id=row["deployment_id"],
        instance_type=facts.get("instance", ""),
        model_name=facts.get("model", ""),
        model_version=facts.get("version"),
        correction=row["correction"],
        quantity=quantity,
        unit=METER_UNITS.get(row["meter"], ""),
        list_unit_price=rate.list_unit,
        contracted_unit_price=rate.contracted_unit,
        list_cost=list_cost,
        contracted_cost=contracted,
        billed_cost=contracted,
        price_item=rate.item,
        rate_card_version=card.version,
    )


def overhead_shares(card: RateCard, usage_cost: dict[int, Decimal]) -> dict[int, Decimal]:
    """Each tenant's fraction of the platform overhead, per the rate card's allocation."""
    if card.overhead_allocation == OverheadAllocation.WEIGHTS:
        weights = {
            tenant_id: Decimal(card.overhead_weights[slug])
            for tenant_id, slug in Tenant.objects.values_list("pk", "slug")
            if slug in card.overhead_weights
        }
        whole = sum(weights.values(), ZERO)
        if whole > 0:
            return {tenant_id: weight / whole for tenant_id, weight in weights.items()}
    if card.overhead_allocation == OverheadAllocation.USAGE:
        whole = sum(usage_cost.values(), ZERO)
        if whole > 0:
            return {tenant_id: cost / whole for tenant_id, cost in usage_cost.items() if cost}
    active = list(Tenant.objects.filter(active=True).values_list("pk", flat=True))
    return {tenant_id: Decimal(1) / len(active) for tenant_id in active} if active else {}


def _overhead(period: BillingPeriod, card: RateCard, charges: list[Charge]) -> list[Charge]:
    if card.overhead_monthly <= 0:
        return []
    usage_cost: dict[int, Decimal] = {}
    for charge in charges:
        usage_cost[charge.tenant_id] = usage_cost.get(charge.tenant_id, ZERO) + charge.billed_cost
    shares = overhead_shares(card, usage_cost)
    overhead = []
    for tenant_id, share in sorted(shares.items()):
        cost = card.overhead_monthly * share
        overhead.append(
            Charge(
                tenant_id=tenant_id,
                period=period,
                meter=Meter.PLATFORM_OVERHEAD,
                service=PLATFORM_SERVICE,
                resource_id="platform",
                resource_name=f"Platform overhead ({card.get_overhead_allocation_display()})",
                quantity=share,
                unit="share",
                list_unit_price=card.overhead_monthly,
                contracted_unit_price=card.overhead_monthly,
                list_cost=cost,
                contracted_cost=cost,
                billed_cost=cost,
                rate_card_version=card.version,
            )
        )
    return overhead


def period_rate(*, period: BillingPeriod, card: RateCard) -> list[Charge]:
    """Write the period's charges from its usage. Run once per period, inside a transaction."""
    price_catalog_ensure()
    totals = usage_totals(period)
    resources = _resources(totals)
    book = PriceBook(card)
    charges = []
    for row in totals:
        facts = resources.get(row["resource_id"], {})
        target = facts.get("target", Target.LOCAL)
        rate = book.rate(row["meter"], target, facts.get("instance", ""))
        charges.append(_charge(period, card, row, facts, rate))
    charges += _overhead(period, card, charges)
    insert_new(Charge, charges)
    return charges


def tenant_month_rate(*, tenant_id: int, month: date, card: RateCard) -> list[Charge]:
    """The charges the close would write for one tenant's usage charged in ``month`` so far,
    priced now and not stored (no platform overhead: it is spread at the close)."""
    price_catalog_ensure()
    totals = list(
        UsageEvent.objects.filter(tenant_id=tenant_id, charge_period=month)
        .values("tenant_id", "meter", "resource_id", "deployment_id", "correction")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    resources = _resources(totals)
    book = PriceBook(card)
    period = BillingPeriod(month=month)
    charges = []
    for row in totals:
        facts = resources.get(row["resource_id"], {})
        rate = book.rate(row["meter"], facts.get("target", Target.LOCAL), facts.get("instance", ""))
        charges.append(_charge(period, card, row, facts, rate))
    return charges
