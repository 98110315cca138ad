"""Cost estimates of a planned deployment, from the price catalog and the rate card in force.

    list     = unit price per hour x replicas           (the best source for the target)
    markup   = list x rate card markup_percent / 100
    monitoring = rate card monitoring fee per model-month, when drift monitoring is on
    hourly   = list + markup + monitoring / 730
    monthly  = (list + markup) x 730 + monitoring       (730 h = 8,760 h / 12)

Every figure is an unrounded ``Decimal``; the API rounds to cents when it shows them. Given the
deployment's current configuration, the estimate also carries what that costs and the difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chargeback import selectors
from chargeback.models import HOURS_PER_MONTH, PriceItem, PriceService, RateCard
from chargeback.services.prices import price_catalog_ensure
from chargeback.services.rate_cards import rate_card_in_force
from portal.core.errors import InvalidRequest
from portal.deployments.models import Environment, Target

CENT = Decimal("0.01")
MAX_REPLICAS = 50
KNOWN_TYPES_SHOWN = 12


def to_cents(amount: Decimal) -> Decimal:
    """The one rounding of an estimate: half up, to the cent, when it is shown."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Provenance:
    """Where an estimate's figures come from."""

    price_item_id: int
    source: str
    source_kind: str
    snapshot_id: int
    snapshot_fetched_at: datetime
    snapshot_published_at: datetime | None
    sku: str
    region: str
    unit_price: Decimal
    pricing_unit: str
    rate_card_version: int
    markup_percent: Decimal
    monitoring_fee_per_model_month: Decimal

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form, for a policy's context."""
        published = self.snapshot_published_at or self.snapshot_fetched_at
        return {
            "price_item": self.price_item_id,
            "source": self.source,
            "source_kind": self.source_kind,
            "snapshot": self.snapshot_id,
            "snapshot_date": published.date().isoformat(),
            "unit_price": str(self.unit_price),
            "pricing_unit": self.pricing_unit,
            "rate_card_version": self.rate_card_version,
            "markup_percent": str(self.markup_percent),
            "monitoring_fee_per_model_month": str(self.monitoring_fee_per_model_month),
        }


@dataclass(frozen=True)
class Estimate:
    tenant: str
    environment: str
    target: str
    instance_type: str
    replicas: int
    drift_monitor: bool
    currency: str
    list_hourly: Decimal
    markup_hourly: Decimal
    monitoring_monthly: Decimal
    provenance: Provenance
    current: Estimate | None = None
    current_deployment: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def monitoring_hourly(self) -> Decimal:
        return self.monitoring_monthly / HOURS_PER_MONTH

    @property
    def hourly(self) -> Decimal:
        return self.list_hourly + self.markup_hourly + self.monitoring_hourly

    @property
    def list_monthly(self) -> Decimal:
        return self.list_hourly * HOURS_PER_MONTH

    @property
    def markup_monthly(self) -> Decimal:
        return self.markup_hourly * HOURS_PER_MONTH

    @property
    def monthly(self) -> Decimal:
        return self.list_monthly + self.markup_monthly + self.monitoring_monthly

    @property
    def hourly_difference(self) -> Decimal | None:
        return None if self.current is None else self.hourly - self.current.hourly

    @property
    def monthly_difference(self) -> Decimal | None:
        return None if self.current is None else self.monthly - self.current.monthly

    def as_policy_cost(self) -> dict[str, Any]:
        """The ``cost`` a policy sees: numbers (CEL needs them), rounded to the cent."""
        cost: dict[str, Any] = {
            "known": True,
            "hourly": float(to_cents(self.hourly)),
            "monthly": float(to_cents(self.monthly)),
            "currency": self.currency,
            "hourly_list": float(to_cents(self.list_hourly)),
            "monthly_list": float(to_cents(self.list_monthly)),
            "provenance": self.provenance.as_dict(),
        }
        if self.monthly_difference is not None:
            cost["monthly_difference"] = float(to_cents(self.monthly_difference))
        return cost


def _validate(*, environment: str, target: str, instance_type: str, replicas: int) -> None:
    if environment not in Environment.values:
        raise InvalidRequest(f"environment must be one of: {', '.join(Environment.values)}.")
    if target not in Target.values:
        raise InvalidRequest(f"target must be one of: {', '.join(Target.values)}.")
    if not instance_type:
        raise InvalidRequest("instance_type is required, for example 'cpu.small'.")
    if not isinstance(replicas, int) or not 1 <= replicas <= MAX_REPLICAS:
        raise InvalidRequest(f"replicas must be from 1 to {MAX_REPLICAS}.")


def _unknown_instance_type(instance_type: str, target: str) -> InvalidRequest:
    known = selectors.known_instance_types(service=PriceService.INFERENCE)
    if not known:
        return InvalidRequest(
            "The price catalog holds no instance prices yet; a platform admin can load them "
            "with `manage.py refresh_prices`."
        )
    shown = ", ".join(known[:KNOWN_TYPES_SHOWN])
    more = (
        f" (and {len(known) - KNOWN_TYPES_SHOWN} more: GET /api/v1/prices/?service=inference)"
        if len(known) > KNOWN_TYPES_SHOWN
        else ""
    )
    return InvalidRequest(
        f"There is no price for instance type '{instance_type}' on target '{target}'. "
        f"Known instance types: {shown}{more}."
    )


def _price(*, target: str, instance_type: str) -> PriceItem:
    price_catalog_ensure()
    item = selectors.hourly_price(
        target=target, instance_type=instance_type, service=PriceService.INFERENCE
    )
    if item is None:
        raise _unknown_instance_type(instance_type, target)
    return item


def _provenance(item: PriceItem, card: RateCard) -> Provenance:
    snapshot = item.snapshot
    return Provenance(
        price_item_id=item.pk,
        source=snapshot.source.name,
        source_kind=snapshot.source.kind,
        snapshot_id=snapshot.pk,
        snapshot_fetched_at=snapshot.fetched_at,
        snapshot_published_at=snapshot.published_at,
        sku=item.sku,
        region=item.region,
        unit_price=item.unit_price,
        pricing_unit=item.pricing_unit,
        rate_card_version=card.version,
        markup_percent=card.markup_percent,
        monitoring_fee_per_model_month=card.monitoring_fee_per_model_month,
    )


def _estimate_one(
    *,
    tenant_slug: str,
    environment: str,
    target: str,
    instance_type: str,
    replicas: int,
    drift_monitor: bool,
    card: RateCard,
) -> Estimate:
    _validate(
        environment=environment, target=target, instance_type=instance_type, replicas=replicas
    )
    item = _price(target=target, instance_type=instance_type)
    if item.currency != card.currency:
        raise InvalidRequest(
            f"The price of '{instance_type}' is in {item.currency} but the rate card charges in "
            f"{card.currency}; a platform admin must align the price source or the rate card."
        )
    list_hourly = item.unit_price * Decimal(replicas)
    return Estimate(
        tenant=tenant_slug,
        environment=environment,
        target=target,
        instance_type=instance_type,
        replicas=replicas,
        drift_monitor=drift_monitor,
        currency=card.currency,
        list_hourly=list_hourly,
        markup_hourly=list_hourly * card.markup_percent / Decimal(100),
        monitoring_monthly=card.monitoring_fee_per_model_month if drift_monitor else Decimal(0),
        provenance=_provenance(item, card),
    )


def estimate(
    *,
    tenant: Any,
    environment: str,
    target: str,
    instance_type: str,
    replicas: int,
    drift_monitor: bool,
    current: dict[str, Any] | None = None,
) -> Estimate:
    """What a deployment configured so costs per hour and per month, and against ``current``.

    ``current`` describes the deployment as it runs now: ``instance_type``, ``replicas``,
    ``drift_monitor``, optionally ``target`` (else the same target) and ``deployment`` (its id).
    An instance type no source prices is an ``InvalidRequest`` naming the known ones.
    """
    card = rate_card_in_force()
    slug = getattr(tenant, "slug", "") or ""
    planned = _estimate_one(
        tenant_slug=slug,
        environment=environment,
        target=target,
        instance_type=instance_type,
        replicas=replicas,
        drift_monitor=drift_monitor,
        card=card,
    )
    if current is None:
        return planned
    notes = []
    try:
        now = _estimate_one(
            tenant_slug=slug,
            environment=environment,
            target=current.get("target") or target,
            instance_type=current["instance_type"],
            replicas=current["replicas"],
            drift_monitor=current["drift_monitor"],
            card=card,
        )
    except InvalidRequest as error:
        now = None
        notes.append(
            f"The current configuration cannot be priced, so no difference: {error.detail}"
        )
    return replace(planned, current=now, current_deployment=current.get("deployment"), notes=notes)
