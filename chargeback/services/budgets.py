"""Budgets: a tenant's monthly budget, its spend so far, a month-end forecast, and alerts.

Month to date is the open month's usage rated on the fly with the rating service
(``rating.tenant_month_rate``): the same prices, rate card and rules the close will use, read and
priced now, stored nowhere. Platform overhead is spread at the close; when the rate card spreads
it evenly or by fixed weights, the tenant's share is known in advance and counted pro rata of the
time elapsed (spread in proportion to usage, it depends on every other tenant and is left out
until the close; the page says so).

Forecast, from the run rate (all times UTC)::

    E = time elapsed in the month, up to the last full hour (metering records finished hours)
    D = length of the month
    C = corrections: late usage of earlier months charged in this month (not extrapolated)
    S = month to date (usage + corrections + overhead share x E / D)
    forecast = C + (S - C) x D / E          (in the month's first hour, E = 0: forecast = S)

Alerts: at each threshold of the budget (default 50, 80 and 100 percent) that month to date
reaches, one ``BudgetAlert`` row per tenant, month and threshold is written (a unique
constraint), and only the call that writes it announces it, by email to the tenant's owners and
by signed webhook (``budget.threshold_crossed``), and records one audit event, all in one
transaction. Checking again sends nothing new; a threshold crossed in a new month alerts again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from chargeback.models import (
    BillingPeriod,
    Budget,
    BudgetAlert,
    Charge,
    OverheadAllocation,
    PeriodState,
    RateCard,
    Statement,
    StatementState,
    UsageEvent,
    default_thresholds,
)
from chargeback.services.metering import month_of, month_start, next_month
from chargeback.services.rate_cards import rate_card_in_force
from chargeback.services.rating import PLATFORM_SERVICE, overhead_shares, tenant_month_rate
from portal.core.audit import Actor, audit_record
from portal.core.errors import InvalidRequest
from tenants.models import Membership, Tenant, TenantRole
from tenants.notifications import notify

logger = logging.getLogger(__name__)
ZERO = Decimal(0)
SPEND_SHOWN_SECONDS = 60
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
THRESHOLD_EVENT = "budget.threshold_crossed"
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000
MAX_BUDGET = Decimal("999999999999.99")  # what DecimalField(max_digits=14, decimal_places=2) holds


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- Spend and forecast ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthSpend:
    """What one tenant has spent in one month so far, and where the month is heading."""

    month: date
    currency: str
    rate_card_version: int
    measured_until: datetime
    charges: list[Charge]
    usage: Decimal  # rated usage of the month, without corrections
    corrections: Decimal  # late usage of earlier months, charged in this month
    overhead_share: Decimal | None  # the month's whole overhead share; None: spread by usage
    overhead_so_far: Decimal
    month_to_date: Decimal
    forecast: Decimal
    elapsed: timedelta
    length: timedelta

    @property
    def overhead_known(self) -> bool:
        return self.overhead_share is not None


def _overhead_share(card: RateCard, tenant: Tenant) -> Decimal | None:
    if card.overhead_monthly <= 0:
        return ZERO
    if card.overhead_allocation == OverheadAllocation.USAGE:
        return None
    share = overhead_shares(card, {}).get(tenant.pk, ZERO)
    return card.overhead_monthly * share


def run_rate_forecast(
    *, month_to_date: Decimal, corrections: Decimal, elapsed: timedelta, length: timedelta
) -> Decimal:
    """forecast = C + (S - C) x D / E; S when nothing of the month has elapsed yet."""
    if elapsed <= timedelta(0):
        return month_to_date
    ratio = Decimal(length // timedelta(seconds=1)) / Decimal(elapsed // timedelta(seconds=1))
    return corrections + (month_to_date - corrections) * ratio


def month_spend(
    *, tenant: Tenant, now: datetime | None = None, card: RateCard | None = None
) -> MonthSpend:
    """The tenant's spend in the month of ``now`` (inside the tenant's scope), priced with
    ``card`` (default: the rate card in force)."""
    now = now or timezone.now()
    month = month_of(now)
    start, end = month_start(month), month_start(next_month(month))
    measured_until = min(
        max(now.astimezone(UTC).replace(minute=0, second=0, microsecond=0), start), end
    )
    card = card or rate_card_in_force()
    charges = tenant_month_rate(tenant_id=tenant.pk, month=month, card=card)
    usage = sum((c.billed_cost for c in charges if not c.correction), ZERO)
    corrections = sum((c.billed_cost for c in charges if c.correction), ZERO)
    elapsed, length = measured_until - start, end - start
    share = _overhead_share(card, tenant)
    so_far = (
        share * Decimal(elapsed // timedelta(seconds=1)) / Decimal(length // timedelta(seconds=1))
        if share
        else ZERO
    )
    to_date = usage + corrections + so_far
    return MonthSpend(
        month=month,
        currency=card.currency,
        rate_card_version=card.version,
        measured_until=measured_until,
        charges=charges,
        usage=usage,
        corrections=corrections,
        overhead_share=share,
        overhead_so_far=so_far,
        month_to_date=to_date,
        forecast=run_rate_forecast(
            month_to_date=to_date, corrections=corrections, elapsed=elapsed, length=length
        ),
        elapsed=elapsed,
        length=length,
    )


def month_spend_shown(*, tenant: Tenant) -> MonthSpend:
    """``month_spend`` now, for pages and API reads: the figures are measured to the hour, so
    they are kept for ``SPEND_SHOWN_SECONDS`` per unit, hour and rate card version instead of
    pricing the month's usage on every view (usage metered or prices refreshed since show up
    within that time). Budget alerts and the close always price afresh."""
    now = timezone.now()
    key = f"chargeback:month-spend:{tenant.pk}:{now:%Y%m%d%H}:{rate_card_in_force().version}"
    try:
        shown = cache.get(key)
    except Exception as error:
        logger.warning("Month-to-date spend not read from the cache: %s", error)
        shown = None
    if isinstance(shown, MonthSpend):
        return shown
    spend = month_spend(tenant=tenant, now=now)
    try:
        cache.set(key, spend, SPEND_SHOWN_SECONDS)
    except Exception as error:
        logger.warning("Month-to-date spend not kept in the cache: %s", error)
    return spend


@dataclass(frozen=True)
class Slice:
    """One bar of a breakdown: a name and its cost."""

    label: str
    amount: Decimal


def _slices(totals: dict[str, Decimal]) -> list[Slice]:
    rows = [Slice(label, cents(amount)) for label, amount in totals.items()]
    return sorted(rows, key=lambda s: (-s.amount, s.label))


def top_slices(slices: list[Slice], *, keep: int, rest: str) -> list[Slice]:
    """The ``keep`` largest slices (``slices`` come largest first) and one more for the rest,
    labelled ``rest`` with ``{count}`` replaced by how many it holds; the total is unchanged."""
    if len(slices) <= keep + 1:
        return slices
    others = slices[keep:]
    return [
        *slices[:keep],
        Slice(rest.format(count=len(others)), sum((s.amount for s in others), ZERO)),
    ]


def breakdown_by_service(spend: MonthSpend) -> list[Slice]:
    totals: dict[str, Decimal] = {}
    for charge in spend.charges:
        totals[charge.service] = totals.get(charge.service, ZERO) + charge.billed_cost
    if spend.overhead_so_far:
        totals[PLATFORM_SERVICE] = totals.get(PLATFORM_SERVICE, ZERO) + spend.overhead_so_far
    return _slices(totals)


def breakdown_by_deployment(spend: MonthSpend) -> list[Slice]:
    """Cost per deployment (its name and revision); other resources under their own name."""
    totals: dict[str, Decimal] = {}
    for charge in spend.charges:
        label = charge.resource_name or charge.resource_id
        totals[label] = totals.get(label, ZERO) + charge.billed_cost
    if spend.overhead_so_far:
        totals["Platform overhead"] = spend.overhead_so_far
    return _slices(totals)


@dataclass(frozen=True)
class MonthTotal:
    month: date
    amount: Decimal
    source: str  # statement | rated | none
    statement: Statement | None = None

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


def _months_back(month: date, count: int) -> list[date]:
    months = [month]
    while len(months) < count:
        first = months[-1]
        months.append(date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1))
    return list(reversed(months))


def spend_by_month(*, tenant: Tenant, current: MonthSpend, months: int = 12) -> list[MonthTotal]:
    """The last ``months`` months, oldest first: a statement's total where the month has one
    (a void statement counts 0), usage rated on the fly for a month not closed yet, and the
    current month's spend so far."""
    wanted = _months_back(current.month, months)
    statements = {
        s.period.month: s
        for s in Statement.objects.filter(period__month__in=wanted[:-1]).select_related("period")
    }
    closed = set(
        BillingPeriod.objects.filter(month__in=wanted, state=PeriodState.CLOSED).values_list(
            "month", flat=True
        )
    )
    with_usage = set(
        UsageEvent.objects.filter(charge_period__in=wanted[:-1])
        .values_list("charge_period", flat=True)
        .distinct()
        .order_by()
    )
    card = None
    rows = []
    for month in wanted[:-1]:
        statement = statements.get(month)
        if statement is not None:
            amount = ZERO if statement.state == StatementState.VOID else statement.total
            rows.append(MonthTotal(month, amount, "statement", statement))
        elif month in with_usage and month not in closed:
            card = card or rate_card_in_force()
            charges = tenant_month_rate(tenant_id=tenant.pk, month=month, card=card)
            rows.append(
                MonthTotal(month, cents(sum((c.billed_cost for c in charges), ZERO)), "rated")
            )
        else:
            rows.append(MonthTotal(month, ZERO, "none"))
    rows.append(MonthTotal(current.month, cents(current.month_to_date), "rated"))
    return rows


# --- The budget -----------------------------------------------------------------------------------


def budget_of(tenant: Tenant) -> Budget | None:
    return Budget.objects.filter(tenant=tenant).select_related("set_by").first()


def _clean_thresholds(thresholds: list[int] | None) -> list[int]:
    if thresholds is None:
        return default_thresholds()
    cleaned = sorted(set(thresholds))
    if not cleaned or len(cleaned) > MAX_THRESHOLDS:
        raise InvalidRequest(
            f"Give 1 to {MAX_THRESHOLDS} thresholds, in percent (e.g. 50, 80, 100)."
        )
    if any(not isinstance(t, int) or not 1 <= t <= MAX_THRESHOLD for t in cleaned):
        raise InvalidRequest(f"Thresholds are whole percentages from 1 to {MAX_THRESHOLD}.")
    return cleaned


def _budget_values(budget: Budget) -> dict[str, Any]:
    return {
        "amount": str(budget.amount),
        "currency": budget.currency,
        "thresholds": budget.thresholds,
    }


@transaction.atomic
def budget_set(
    *,
    actor: Actor,
    tenant: Tenant,
    amount: Decimal,
    user: Any = None,
    currency: str | None = None,
    thresholds: list[int] | None = None,
) -> Budget:
    """Set (or change) the tenant's monthly budget; audited on the tenant's chain."""
    in_force = rate_card_in_force().currency
    currency = (currency or in_force).upper()
    if currency != in_force:
        raise InvalidRequest(
            f"Budgets are kept in the rate card's currency, {in_force}; give the amount in {in_force}."
        )
    if not amount.is_finite() or amount <= 0 or amount > MAX_BUDGET:
        raise InvalidRequest("The budget must be an amount above 0 (e.g. 2500.00).")
    if amount != amount.quantize(CENT):
        raise InvalidRequest("The budget is in cents at most (e.g. 2500.50).")
    cleaned = _clean_thresholds(thresholds)
    budget = Budget.objects.select_for_update().filter(tenant=tenant).first()
    before = _budget_values(budget) if budget else None
    if budget is None:
        budget = Budget(tenant=tenant)
    budget.amount, budget.currency, budget.thresholds = amount, currency, cleaned
    budget.set_by = user if getattr(user, "pk", None) else None
    budget.set_by_label = actor.label[:150]
    budget.updated_at = timezone.now()
    budget.save()
    audit_record(
        actor=actor,
        action="budget.set",
        object_type="budget",
        object_id=budget.pk,
        tenant_id=tenant.pk,
        before=before,
        after=_budget_values(budget),
    )
    return budget


@dataclass(frozen=True)
class BudgetStatus:
    """A tenant's budget (if any) with the month's spend, forecast and alerts sent."""

    tenant: Tenant
    budget: Budget | None
    spend: MonthSpend
    alerts: list[BudgetAlert]

    @property
    def used_percent(self) -> Decimal | None:
        return self._percent(self.spend.month_to_date)

    @property
    def forecast_percent(self) -> Decimal | None:
        return self._percent(self.spend.forecast)

    def _percent(self, amount: Decimal) -> Decimal | None:
        if self.budget is None:
            return None
        return (amount * HUNDRED / self.budget.amount).quantize(Decimal("0.1"), ROUND_HALF_UP)


def budget_status(*, tenant: Tenant, now: datetime | None = None) -> BudgetStatus:
    """The budget with the month's spend: as shown on pages (``month_spend_shown``) when ``now``
    is not given."""
    spend = month_spend_shown(tenant=tenant) if now is None else month_spend(tenant=tenant, now=now)
    return BudgetStatus(
        tenant=tenant,
        budget=budget_of(tenant),
        spend=spend,
        alerts=list(BudgetAlert.objects.filter(month=spend.month).order_by("threshold")),
    )


# --- Alerts ---------------------------------------------------------------------------------------


def _owner_emails(tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.filter(tenant=tenant, role=TenantRole.OWNER)
        .exclude(user__email="")
        .order_by("user__username")
        .values_list("user__email", flat=True)
    )


def _announce(tenant: Tenant, budget: Budget, alert: BudgetAlert, spend: MonthSpend) -> None:
    page = settings.PORTAL_BASE_URL + reverse("tenant-costs", kwargs={"tenant": tenant.slug})
    spent, forecast = cents(spend.month_to_date), cents(spend.forecast)
    payload = {
        "month": f"{spend.month:%Y-%m}",
        "threshold": alert.threshold,
        "budget": str(budget.amount),
        "currency": budget.currency,
        "month_to_date": str(spent),
        "forecast": str(forecast),
        "page": page,
    }
    notify(
        tenant_id=tenant.pk,
        event=THRESHOLD_EVENT,
        payload=payload,
        emails=_owner_emails(tenant),
        subject=f"[{tenant.name}] {alert.threshold}% of the monthly budget reached",
        body=(
            f"{tenant.name} has spent {spent} {budget.currency} in {spend.month:%B %Y}, "
            f"{alert.threshold}% or more of its monthly budget of {budget.amount} "
            f"{budget.currency}.\n\nAt the current run rate the month ends at about {forecast} "
            f"{budget.currency}.\n\nCosts and budget: {page}\n"
        ),
    )


def budget_check(*, tenant: Tenant, now: datetime | None = None) -> list[BudgetAlert]:
    """Alert once for each threshold the tenant's spend reached this month; returns the new
    alerts (none when every reached threshold was announced already). Runs in the tenant's scope."""
    budget = budget_of(tenant)
    if budget is None:
        return []
    spend = month_spend(tenant=tenant, now=now)
    actor = Actor.system("budget check")
    new = []
    with transaction.atomic():
        budget = Budget.objects.select_for_update().get(pk=budget.pk)
        reached = [
            t for t in budget.thresholds if spend.month_to_date * HUNDRED >= budget.amount * t
        ]
        sent = set(
            BudgetAlert.objects.filter(month=spend.month, threshold__in=reached).values_list(
                "threshold", flat=True
            )
        )
        for threshold in reached:
            if threshold in sent:
                continue
            try:
                with transaction.atomic():
                    alert = BudgetAlert.objects.create(
                        tenant=tenant,
                        month=spend.month,
                        threshold=threshold,
                        budget_amount=budget.amount,
                        spend=spend.month_to_date,
                        forecast=spend.forecast,
                        currency=budget.currency,
                    )
            except IntegrityError:
                continue  # another check announced it meanwhile
            audit_record(
                actor=actor,
                action="budget.threshold_crossed",
                object_type="budget",
                object_id=budget.pk,
                tenant_id=tenant.pk,
                after={
                    "month": f"{spend.month:%Y-%m}",
                    "threshold": threshold,
                    "budget": str(budget.amount),
                    "month_to_date": str(cents(spend.month_to_date)),
                    "forecast": str(cents(spend.forecast)),
                },
            )
            _announce(tenant, budget, alert, spend)
            new.append(alert)
    return new


def budget_tenant_ids() -> list[int]:
    """Tenants with a budget (the beat task checks each in its own scope)."""
    # Only ids, to run each tenant's check inside its own scope.
    return list(
        Budget.objects.dangerously_across_tenants()
        .filter(tenant__active=True)
        .order_by("tenant_id")
        .values_list("tenant_id", flat=True)
    )
