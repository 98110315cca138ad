"""Chargeback tasks: the daily price refresh, metering every few minutes, the month close, and
the budget check.

Each is safe to run twice: a refresh of unchanged prices writes nothing, metering records each
hour or day once (idempotency keys), a closed month returns the statements it has, and a budget
threshold alerts once per month (a row per tenant, month and threshold).
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from chargeback.services.budgets import budget_check, budget_tenant_ids
from chargeback.services.close import billing_period_close, month_to_close
from chargeback.services.metering import metering_run, month_start, next_month
from chargeback.services.prices import prices_refresh_all
from portal.core.audit import Actor
from tenants.models import Tenant
from tenants.scoping import tenant_scope

SYSTEM = Actor.system("chargeback")


@shared_task(name="chargeback.refresh_prices", acks_late=True)
def refresh_prices(*, sources: list[str] | None = None) -> dict[str, str]:
    """Refresh the enabled sources (or the named ones); one source's failure is recorded on it
    and does not stop the others. Safe to run twice: unchanged content writes nothing."""
    return {result.source: result.outcome for result in prices_refresh_all(names=sources)}


@shared_task(
    name="chargeback.meter_usage",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def meter_usage() -> dict[str, int]:
    """Record deployment hours, monitoring and storage up to now (finished hours and days)."""
    return metering_run(until=timezone.now())


@shared_task(
    name="chargeback.close_billing_period",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def close_billing_period(*, period: str | None = None) -> dict[str, object]:
    """Meter the month to its end, then close it (default: the previous month). The month's row
    shows progress and, if the close stops, why; running it again continues."""
    month = month_to_close(period, now=timezone.now())
    metering_run(until=month_start(next_month(month)))
    closed = billing_period_close(month=month, actor=SYSTEM)
    return {"period": closed.label, "state": closed.state, "statements": closed.total}


@shared_task(
    name="chargeback.check_budgets",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def check_budgets() -> dict[str, list[int]]:
    """Alert each tenant with a budget once per threshold its spend reached this month; returns
    the thresholds newly announced per tenant (empty on a second run)."""
    announced: dict[str, list[int]] = {}
    for tenant_id in budget_tenant_ids():
        tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
        if tenant is None:
            continue
        with tenant_scope(tenant):
            alerts = budget_check(tenant=tenant)
        if alerts:
            announced[tenant.slug] = [alert.threshold for alert in alerts]
    return announced
