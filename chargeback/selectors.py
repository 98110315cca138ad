"""Reads of the price catalog, the rate card history and the month closes. Prices and billing
periods are platform-wide (no tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from chargeback.models import (
    BillingPeriod,
    PeriodState,
    PriceItem,
    PriceSource,
    PricingUnit,
    RateCard,
    SourceKind,
    Statement,
)
from portal.core.queued import Queued, following, queued_work
from tenants.access import FINANCE_ROLES, platform_role_of
from tenants.selectors import unit_records_visible_to

# Which sources price a target's instances, best first; the built-in catalog is the fallback.
TARGET_SOURCES: dict[str, tuple[str, ...]] = {
    "sagemaker": (SourceKind.AWS_BULK, SourceKind.MANUAL, SourceKind.BUILTIN),
    "kserve": (SourceKind.MANUAL, SourceKind.BUILTIN),
    "local": (SourceKind.MANUAL, SourceKind.BUILTIN),
}
# After the target's own sources, any other source that knows the instance type.
LAST_RESORT = (SourceKind.BUILTIN, SourceKind.MANUAL, SourceKind.AWS_BULK, SourceKind.AZURE_RETAIL)


def sources_in_force() -> QuerySet[PriceSource]:
    """Enabled sources with prices loaded, with their snapshot in force."""
    return PriceSource.objects.filter(enabled=True, current_snapshot__isnull=False).select_related(
        "current_snapshot"
    )


def prices_in_force(
    *, service: str = "", instance_type: str = "", source: str = "", region: str = ""
) -> QuerySet[PriceItem]:
    """The items of every enabled source's snapshot in force, with filters, in a stable order."""
    snapshots = PriceSource.objects.filter(enabled=True, current_snapshot__isnull=False).values(
        "current_snapshot"
    )
    items = PriceItem.objects.filter(snapshot__in=snapshots).select_related("snapshot__source")
    if service:
        items = items.filter(service=service)
    if instance_type:
        items = items.filter(instance_type=instance_type)
    if source:
        items = items.filter(snapshot__source__name=source)
    if region:
        items = items.filter(region=region)
    return items.order_by("service", "instance_type", "snapshot__source__name", "unit_price", "id")


def _effective_now() -> Q:
    now = timezone.now()
    return (Q(effective_from__isnull=True) | Q(effective_from__lte=now)) & (
        Q(effective_to__isnull=True) | Q(effective_to__gt=now)
    )


def hourly_price(
    *, target: str, instance_type: str, service: str, sources: list[PriceSource] | None = None
) -> PriceItem | None:
    """The list price per hour of ``instance_type`` from the best source for ``target``.

    Within a source, an item of the source's own region wins, then the lowest price. A caller
    pricing many instance types passes ``sources`` (``sources_in_force()``, read once).
    """
    if sources is None:
        sources = list(sources_in_force())
    order = TARGET_SOURCES.get(target, ()) + LAST_RESORT
    ranked = sorted(
        sources, key=lambda s: (order.index(s.kind) if s.kind in order else len(order), s.name)
    )
    for source in ranked:
        item = (
            PriceItem.objects.filter(
                _effective_now(),
                snapshot_id=source.current_snapshot_id,
                service=service,
                instance_type=instance_type,
                pricing_unit=PricingUnit.HOUR,
            )
            .select_related("snapshot")
            .annotate(
                foreign_region=Case(
                    When(region=source.region, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("foreign_region", "unit_price", "id")
            .first()
        )
        if item is not None:
            item.snapshot.source = source
            return item
    return None


def known_instance_types(*, service: str) -> list[str]:
    """Instance types some enabled source prices per hour, the portal's own names first."""
    names = set(
        prices_in_force(service=service)
        .filter(pricing_unit=PricingUnit.HOUR)
        .exclude(instance_type="")
        .values_list("instance_type", flat=True)
        .order_by()
        .distinct()
    )
    return sorted(names, key=lambda name: (name.startswith(("ml.", "Standard_")), name))


def rate_cards() -> QuerySet[RateCard]:
    return RateCard.objects.order_by("-version")


# --- month closes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthCloses:
    """The latest months' closes, newest first, and a close a page queued that no worker has
    started yet."""

    periods: list[BillingPeriod]
    queued: Queued | None = None

    @property
    def live(self) -> bool:
        """A close runs or waits for a worker: the page follows it."""
        closing = any(period.state == PeriodState.CLOSING for period in self.periods)
        return following(self.queued, running=closing)


def _close_moment(period: BillingPeriod, now: datetime) -> datetime | None:
    """When the period's close last moved: now while it runs (a stopped close, with its error,
    waits for a run again), else when it closed or began."""
    if period.state == PeriodState.CLOSING and not period.last_error:
        return now
    return period.closed_at or period.started_at


def month_closes(*, months: int = 3, request: HttpRequest | None = None) -> MonthCloses:
    now = timezone.now()
    periods = list(BillingPeriod.objects.order_by("-month")[:months])
    queued = None
    if request is not None:
        queued = queued_work(request, started=(_close_moment(p, now) for p in periods), now=now)
    return MonthCloses(periods=periods, queued=queued)


def is_finance(principal: Any) -> bool:
    return platform_role_of(principal) in FINANCE_ROLES


def visible_statements(principal: Any) -> QuerySet[Statement]:
    """The statements ``principal`` may read (a cross-tenant read, filtered by access)."""
    statements = Statement.objects.dangerously_across_tenants().select_related("tenant", "period")
    return unit_records_visible_to(principal, statements, readers=FINANCE_ROLES)
