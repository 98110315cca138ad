"""Rows the metering and statement tests build on: live deployments and usage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chargeback.services.metering import UsageInput
from governance.tests.builders import make_version
from portal.deployments.models import Deployment, DeploymentState
from tenants.scoping import tenant_scope


def at(text: str) -> datetime:
    """A UTC moment written as '2026-10-05 10:15:30'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def live_deployment(
    tenant,
    *,
    name: str = "churn",
    live_from: str,
    live_until: str | None = None,
    instance_type: str = "cpu.small",
    replicas: int = 1,
    drift_monitor: bool = False,
    revision: int = 1,
) -> Deployment:
    version = make_version(tenant, name=name, version=revision)
    with tenant_scope(tenant):
        return Deployment.objects.create(
            tenant=tenant,
            name=name,
            revision=revision,
            model_version=version,
            environment="production",
            target="local",
            instance_type=instance_type,
            replicas=replicas,
            drift_monitor=drift_monitor,
            traffic_weight=100,
            state=DeploymentState.LIVE,
            live_from=at(live_from),
            live_until=at(live_until) if live_until else None,
            requested_by_label="test",
        )


def requests_event(
    tenant, deployment: Deployment, *, minute: str, count: int, key: str | None = None
) -> UsageInput:
    start = at(minute)
    return UsageInput(
        tenant_id=tenant.pk,
        meter="requests",
        quantity=Decimal(count),
        unit="requests",
        start=start,
        end=start.replace(second=59),
        idempotency_key=key or f"gw:test:{deployment.pk}:{start:%Y%m%d%H%M}:requests",
        deployment_id=deployment.pk,
    )


def closed_month(company, month: str = "2026-10"):
    """Usage of both units in ``month`` (A: 1.7417 h of cpu.large, monitored, and requests; B:
    one day of gpu.t4), metered and closed; returns the month's row."""
    from chargeback.services.close import billing_period_close, parse_month
    from chargeback.services.metering import (
        metering_run,
        month_start,
        next_month,
        usage_record_many,
    )
    from tests.builders import TEST_ACTOR

    first = parse_month(month)
    a = live_deployment(
        company.a,
        name=f"churn-{first:%m}",
        live_from=f"{month}-05 10:15:30",
        live_until=f"{month}-05 12:00:00",
        instance_type="cpu.large",
        drift_monitor=True,
    )
    live_deployment(
        company.b,
        name=f"leads-{first:%m}",
        live_from=f"{month}-07 00:00:00",
        live_until=f"{month}-08 00:00:00",
        instance_type="gpu.t4",
    )
    usage_record_many([requests_event(company.a, a, minute=f"{month}-05 11:00:00", count=1500)])
    end = month_start(next_month(first))
    metering_run(until=end)
    return billing_period_close(month=first, actor=TEST_ACTOR, now=end)
