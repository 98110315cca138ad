"""Metering: usage is recorded once, deployment hours to the second, late usage as corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.models import Charge, UsageEvent
from chargeback.services.close import billing_period_close
from chargeback.services.metering import (
    meter_deployment_hours,
    meter_monitoring,
    meter_storage,
    usage_record_many,
)
from chargeback.tests.builders import at, live_deployment, monitored, requests_event
from portal.catalog.models import ModelVersion
from portal.core.errors import InvalidRequest
from portal.deployments.models import Deployment, Suspension
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR

pytestmark = pytest.mark.django_db
OCTOBER = at("2026-10-01 00:00:00").date()


def near(stored: Decimal, exact: Decimal) -> bool:
    """Amounts are stored unrounded to 12 decimal places."""
    return abs(stored - exact) < Decimal("1e-11")


def usage_of(tenant, **filters):
    with tenant_scope(tenant):
        return list(UsageEvent.objects.filter(**filters).order_by("start"))


def charges_of(tenant, **filters):
    with tenant_scope(tenant):
        return list(Charge.objects.filter(**filters))


def test_a_replayed_usage_event_is_stored_and_charged_once(company):
    deployment = live_deployment(company.a, live_from="2026-10-05 09:00:00")
    event = requests_event(company.a, deployment, minute="2026-10-05 10:00:00", count=120)

    first = usage_record_many([event])
    replay = usage_record_many([event, event])

    assert (first, replay) == (1, 0)
    assert [e.quantity for e in usage_of(company.a, meter="requests")] == [Decimal(120)]
    billing_period_close(month=OCTOBER, actor=TEST_ACTOR)
    [charge] = charges_of(company.a, meter="requests")
    assert charge.quantity == 120


def test_a_deployment_live_from_10_15_30_to_12_00_00_is_billed_1_7417_hours(company):
    deployment = live_deployment(
        company.a,
        live_from="2026-10-05 10:15:30",
        live_until="2026-10-05 12:00:00",
        instance_type="cpu.large",
    )

    meter_deployment_hours(until=at("2026-11-01 00:00:00"))
    billing_period_close(month=OCTOBER, actor=TEST_ACTOR)

    pieces = usage_of(company.a, meter="deployment_hours")
    assert [(e.start, e.end) for e in pieces] == [
        (at("2026-10-05 10:15:30"), at("2026-10-05 11:00:00")),
        (at("2026-10-05 11:00:00"), at("2026-10-05 12:00:00")),
    ]
    [charge] = charges_of(company.a, meter="deployment_hours")
    assert charge.quantity.quantize(Decimal("0.0001")) == Decimal("1.7417")
    assert charge.deployment_id == deployment.pk
    # cpu.large lists at $0.23/h; the default rate card adds 10%.
    assert charge.list_unit_price == Decimal("0.23")
    assert near(charge.list_cost, Decimal(6270) / 3600 * Decimal("0.23"))
    assert near(charge.contracted_cost, Decimal(6270) / 3600 * Decimal("0.23") * Decimal("1.1"))
    assert charge.price_item is not None and charge.rate_card_version == 0


def test_deployment_hours_are_instance_hours_of_every_replica(company):
    live_deployment(
        company.a,
        live_from="2026-10-05 10:15:30",
        live_until="2026-10-05 12:00:00",
        replicas=3,
    )

    meter_deployment_hours(until=at("2026-11-01 00:00:00"))

    total = sum(e.quantity for e in usage_of(company.a, meter="deployment_hours"))
    assert (total / 3).quantize(Decimal("0.0001")) == Decimal("1.7417")


def test_metering_again_or_every_few_minutes_changes_nothing(company):
    live_deployment(company.a, live_from="2026-10-05 10:15:30")  # still live

    at_10_59 = meter_deployment_hours(until=at("2026-10-05 10:59:00"))
    at_12_05 = meter_deployment_hours(until=at("2026-10-05 12:05:00"))
    again = meter_deployment_hours(until=at("2026-10-05 12:05:00"))
    at_12_09 = meter_deployment_hours(until=at("2026-10-05 12:09:00"))

    assert (at_10_59, at_12_05, again, at_12_09) == (0, 2, 0, 0)
    hours = usage_of(company.a, meter="deployment_hours")
    assert [e.end for e in hours] == [at("2026-10-05 11:00:00"), at("2026-10-05 12:00:00")]


def test_monitoring_and_storage_are_metered_once_a_day(company):
    deployment = live_deployment(
        company.a,
        live_from="2026-10-30 12:00:00",
        live_until="2026-10-31 12:00:00",
        drift_monitor=True,
    )
    with tenant_scope(company.a):
        ModelVersion.objects.filter(pk=deployment.model_version_id).update(
            artifact_size_bytes=2 * 1024**3, created_at=at("2026-10-30 08:00:00")
        )

    until = at("2026-11-01 00:00:00")
    assert meter_monitoring(until=until) == 2
    assert meter_storage(until=until) == 2
    assert meter_monitoring(until=until) + meter_storage(until=until) == 0

    monitored = sum(e.quantity for e in usage_of(company.a, meter="monitored_model_months"))
    assert near(monitored, Decimal(1) / 31)  # one day of a 31-day month
    stored = sum(e.quantity for e in usage_of(company.a, meter="storage_gb_months"))
    assert stored.quantize(Decimal("0.000001")) == (Decimal(2 * 2) / 31).quantize(
        Decimal("0.000001")
    )


def test_no_monitoring_charge_exists_without_a_monitor(company):
    # The request asked for drift monitoring, but its endpoint has no monitor to run.
    deployment = live_deployment(company.a, live_from="2026-10-29 00:00:00")
    with tenant_scope(company.a):
        Deployment.objects.filter(pk=deployment.pk).update(drift_monitor=True)

    assert meter_monitoring(until=at("2026-11-01 00:00:00")) == 0
    assert usage_of(company.a, meter="monitored_model_months") == []


def test_monitoring_is_charged_only_for_the_time_the_endpoint_had_an_enabled_monitor(company):
    live_deployment(company.a, live_from="2026-10-27 00:00:00", live_until="2026-10-31 00:00:00")
    monitored(company.a, "churn", since="2026-10-28 12:00:00", until="2026-10-29 12:00:00")
    monitored(company.a, "churn", since="2026-10-30 18:00:00")  # enabled again

    assert meter_monitoring(until=at("2026-11-01 00:00:00")) == 3
    assert meter_monitoring(until=at("2026-11-01 00:00:00")) == 0

    days = usage_of(company.a, meter="monitored_model_months")
    assert [(e.start.day, e.attributes["monitored_seconds"]) for e in days] == [
        (28, 43200),
        (29, 43200),
        (30, 21600),
    ]
    assert near(sum(e.quantity for e in days), Decimal("1.25") / 31)


def test_usage_that_arrives_after_its_month_closed_is_a_correction_in_the_next_month(company):
    deployment = live_deployment(company.a, live_from="2026-09-01 00:00:00")
    billing_period_close(month=at("2026-09-01 00:00:00").date(), actor=TEST_ACTOR)

    late = requests_event(company.a, deployment, minute="2026-09-30 23:59:00", count=7)
    usage_record_many([late])

    [event] = usage_of(company.a, meter="requests")
    assert (event.charge_period, event.correction) == (OCTOBER, True)
    billing_period_close(month=OCTOBER, actor=TEST_ACTOR)
    [charge] = charges_of(company.a, meter="requests")
    assert (charge.period.month, charge.correction, charge.quantity) == (OCTOBER, True, 7)


def test_usage_with_the_wrong_unit_is_refused_and_nothing_is_stored(company):
    deployment = live_deployment(company.a, live_from="2026-10-05 09:00:00")
    good = requests_event(company.a, deployment, minute="2026-10-05 10:00:00", count=1)
    bad = requests_event(company.a, deployment, minute="2026-10-05 10:01:00", count=1)
    object.__setattr__(bad, "unit", "hour")

    with pytest.raises(InvalidRequest, match="counts in 'requests'"):
        usage_record_many([good, bad])

    assert usage_of(company.a) == []


def test_a_deployment_suspended_from_10_30_to_12_15_is_billed_only_the_hours_it_served(company):
    deployment = live_deployment(company.a, live_from="2026-10-05 10:00:00")
    with tenant_scope(company.a):
        suspension = Suspension.objects.create(
            tenant=company.a,
            deployment=deployment,
            cause="recertification_overdue",
            reason="Overdue.",
            traffic_weight=100,
            started_at=at("2026-10-05 10:30:00"),
        )

    meter_deployment_hours(until=at("2026-10-05 11:20:00"))
    meter_deployment_hours(until=at("2026-10-05 12:05:00"))  # a whole hour suspended: no charge
    with tenant_scope(company.a):
        suspension.ended_at = at("2026-10-05 12:15:00")
        suspension.save(update_fields=["ended_at"])
        deployment.live_until = at("2026-10-05 14:00:00")
        deployment.save(update_fields=["live_until"])
    meter_deployment_hours(until=at("2026-11-01 00:00:00"))

    pieces = usage_of(company.a, meter="deployment_hours")
    assert [(e.start, e.end, e.quantity) for e in pieces] == [
        (at("2026-10-05 10:00:00"), at("2026-10-05 11:00:00"), Decimal("0.5")),
        (at("2026-10-05 12:00:00"), at("2026-10-05 13:00:00"), Decimal("0.75")),
        (at("2026-10-05 13:00:00"), at("2026-10-05 14:00:00"), Decimal("1")),
    ]
    billing_period_close(month=OCTOBER, actor=TEST_ACTOR)
    [charge] = charges_of(company.a, meter="deployment_hours")
    assert charge.quantity == Decimal("2.25")
