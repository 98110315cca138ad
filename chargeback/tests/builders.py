"""Builders for chargeback tests: recorded answers of the public price APIs, so that no test of
this app reaches the network, and the live deployments, usage and closed months that metering and
statements are computed from."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from chargeback.fetch import PriceFetchError
from chargeback.models import PriceSource, StatementLine
from chargeback.price_sources import azure_first_page_url
from chargeback.services.close import billing_period_close, parse_month
from chargeback.services.metering import (
    UsageInput,
    metering_run,
    month_start,
    next_month,
    usage_record_many,
)
from chargeback.services.prices import price_sources_ensure
from governance.tests.builders import make_version
from portal.deployments.models import Deployment, DeploymentState
from portal.monitoring.models import Monitor, MonitorSpan
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR

RECORDED = Path(__file__).resolve().parent / "recorded"
AWS_HOST = "https://pricing.us-east-1.amazonaws.com"
AWS_OFFER_URL = f"{AWS_HOST}/offers/v1.0/aws/AmazonSageMaker/20250612180935/us-east-1/index.json"
AZURE_SECOND_PAGE = (
    "https://prices.azure.com:443/api/retail/prices?$filter=serviceName%20eq%20%27Azure%20Machine"
    "%20Learning%27%20and%20priceType%20eq%20%27Consumption%27%20and%20armRegionName%20eq%20"
    "%27eastus%27&$skip=100"
)


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


class RecordedHttp:
    """Stands in for ``chargeback.fetch.http_get``: answers URLs it was given, fails the rest."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Exception] = {}
        self.calls: list[str] = []

    def serve(self, url: str, answer: bytes | Exception) -> None:
        self.routes[url] = answer

    def __call__(self, url: str, *, timeout: float | None = None) -> bytes:
        self.calls.append(url)
        answer = self.routes.get(url)
        if answer is None:
            raise PriceFetchError(f"{url} could not be reached: no recorded answer.")
        if isinstance(answer, Exception):
            raise answer
        return answer

    def serve_aws(self, offer: bytes | None = None, *, offer_url: str = AWS_OFFER_URL) -> None:
        index = recorded("aws_sagemaker_region_index.json")
        if offer_url != AWS_OFFER_URL:
            index = index.replace(
                AWS_OFFER_URL.removeprefix(AWS_HOST).encode(),
                offer_url.removeprefix(AWS_HOST).encode(),
            )
        self.serve(settings.PRICE_AWS_REGION_INDEX_URL, index)
        self.serve(
            offer_url, offer if offer is not None else recorded("aws_sagemaker_us-east-1.json")
        )

    def serve_azure(self) -> None:
        self.serve(azure_first_page_url(source("azure-ml")), recorded("azure_ml_eastus_page1.json"))
        self.serve(AZURE_SECOND_PAGE, recorded("azure_ml_eastus_page2.json"))


def source(name: str) -> PriceSource:
    price_sources_ensure()
    return PriceSource.objects.get(name=name)


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
    """A revision live from ``live_from``; with ``drift_monitor`` its endpoint has an enabled
    monitor for the same time, as a request with the drift option gets by construction."""
    version = make_version(tenant, name=name, version=revision)
    if drift_monitor:
        monitored(tenant, name, since=live_from, until=live_until)
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


def monitored(tenant, endpoint: str, *, since: str, until: str | None = None) -> Monitor:
    """The endpoint's monitor, enabled from ``since`` (until ``until``, else still enabled)."""
    with tenant_scope(tenant):
        monitor, _ = Monitor.objects.get_or_create(
            tenant=tenant,
            endpoint=endpoint,
            defaults={"created_by_label": "test", "created_at": at(since), "enabled": not until},
        )
        MonitorSpan.objects.create(
            tenant=tenant,
            monitor=monitor,
            endpoint=endpoint,
            started_at=at(since),
            ended_at=at(until) if until else None,
        )
        return monitor


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


def first_line(statement) -> StatementLine:
    with tenant_scope(statement.tenant_id):
        return StatementLine.objects.filter(statement=statement).order_by("position").first()
