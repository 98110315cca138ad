"""Cost estimates: list price x replicas, the rate card's markup, the monitoring fee."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.services.estimates import estimate
from chargeback.services.prices import price_source_refresh
from chargeback.services.rate_cards import rate_card_publish
from chargeback.tests.builders import source
from governance.tests.builders import classify, make_version, request
from portal.core.errors import InvalidRequest
from tests.builders import TEST_ACTOR, client_for

pytestmark = pytest.mark.django_db
HOURS = Decimal(730)


def url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/estimates/"


@pytest.fixture
def markup_12_5(db):
    return rate_card_publish(actor=TEST_ACTOR, markup_percent=Decimal("12.5"))


@pytest.fixture
def deployment_of_a(company):
    version = make_version(company.a, name="churn", metrics={"val_accuracy": 0.9})
    classify(company.a, version, "minimal")
    return request(
        company.a, version, company.amir, environment="staging", instance_type="cpu.small"
    )


def plan(tenant, **given):
    return estimate(
        tenant=tenant,
        **{
            "environment": "production",
            "target": "local",
            "instance_type": "cpu.large",
            "replicas": 2,
            "drift_monitor": True,
            **given,
        },
    )


def test_an_estimate_for_two_cpu_large_with_monitoring_equals_the_hand_computed_decimal(
    company, markup_12_5
):
    found = plan(company.a)

    # cpu.large lists at $0.23/h; 2 replicas; 12.5% markup; $100 per monitored model-month.
    list_hourly = Decimal("0.23") * 2
    markup_hourly = list_hourly * Decimal("0.125")
    assert (found.list_hourly, found.markup_hourly) == (Decimal("0.46"), Decimal("0.0575"))
    assert found.hourly == list_hourly + markup_hourly + Decimal(100) / HOURS
    assert found.monthly == Decimal("335.8") + Decimal("41.975") + Decimal(100)
    assert found.monthly == Decimal("477.775")
    assert isinstance(found.hourly, Decimal) and isinstance(found.monthly, Decimal)
    assert found.provenance.source == "builtin"
    assert found.provenance.unit_price == Decimal("0.23")
    assert found.provenance.rate_card_version == markup_12_5.version == 1


def test_the_api_rounds_the_estimate_to_cents_once(company, markup_12_5):
    answer = client_for(company.amir).post(
        url(company.a),
        {"environment": "production", "instance_type": "cpu.large", "replicas": 2},
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["hourly"], body["monthly"], body["currency"]) == ("0.65", "477.78", "USD")
    assert body["breakdown"] == {
        "list_hourly": "0.46",
        "markup_hourly": "0.06",
        "monitoring_hourly": "0.14",
        "list_monthly": "335.80",
        "markup_monthly": "41.98",
        "monitoring_monthly": "100.00",
    }
    provenance = body["provenance"]
    assert (provenance["source"], provenance["unit_price"], provenance["rate_card_version"]) == (
        "builtin",
        "0.2300000000",
        1,
    )
    assert provenance["price_item"] and provenance["snapshot"]
    assert body["current"] is None and body["difference"] is None


def test_without_drift_monitoring_there_is_no_monitoring_fee(company):
    found = plan(company.a, drift_monitor=False, replicas=1, instance_type="gpu.a100")
    assert found.monitoring_monthly == 0
    assert found.monthly == Decimal("4.48") * HOURS * Decimal("1.10")


def test_the_difference_against_a_current_configuration(company, markup_12_5):
    found = plan(
        company.a, current={"instance_type": "cpu.medium", "replicas": 1, "drift_monitor": True}
    )

    assert found.current is not None
    assert found.current.monthly == Decimal("0.115") * HOURS * Decimal("1.125") + 100
    assert found.monthly_difference == (Decimal("0.46") - Decimal("0.115")) * HOURS * Decimal(
        "1.125"
    )
    assert found.monthly_difference == Decimal("283.33125")
    assert found.hourly_difference == found.hourly - found.current.hourly


def test_the_api_compares_with_one_of_the_tenants_deployments(company, deployment_of_a):
    answer = client_for(company.amir).post(
        url(company.a),
        {
            "environment": "staging",
            "instance_type": "cpu.medium",
            "replicas": 3,
            "deployment": deployment_of_a.pk,
        },
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["deployment"] == deployment_of_a.pk
    assert (body["current"]["instance_type"], body["current"]["replicas"]) == ("cpu.small", 1)
    # 3 x 0.115 - 1 x 0.05 = 0.295 per hour list, +10% markup, monitoring on both sides.
    assert body["difference"] == {"hourly": "0.32", "monthly": "236.89"}


def test_an_unknown_instance_type_is_a_400_that_lists_the_known_ones(company):
    answer = client_for(company.amir).post(
        url(company.a), {"environment": "staging", "instance_type": "tpu.v5"}, format="json"
    )

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid"
    assert body["detail"] == (
        "There is no price for instance type 'tpu.v5' on target 'local'. Known instance types: "
        "cpu.large, cpu.medium, cpu.small, gpu.a10, gpu.a100, gpu.t4."
    )
    with pytest.raises(InvalidRequest):
        plan(company.a, instance_type="tpu.v5")


def test_replicas_out_of_range_are_a_400(company):
    answer = client_for(company.amir).post(
        url(company.a),
        {"environment": "staging", "instance_type": "cpu.small", "replicas": 0},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("replicas:")


def test_tenant_b_cannot_estimate_against_a_deployment_of_a(company, deployment_of_a):
    bob = client_for(company.bob)
    body = {"environment": "staging", "instance_type": "cpu.small"}

    theirs = bob.post(url(company.b), {**body, "deployment": deployment_of_a.pk}, format="json")
    missing = bob.post(url(company.b), {**body, "deployment": 999_999}, format="json")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content


def test_someone_outside_the_tenant_gets_a_404_and_a_viewer_may_estimate(company):
    body = {"environment": "staging", "instance_type": "cpu.small"}
    assert client_for(company.bob).post(url(company.a), body, format="json").status_code == 404
    assert client_for(company.fiona).post(url(company.a), body, format="json").status_code == 403
    assert client_for(company.ava).post(url(company.a), body, format="json").status_code == 200


def test_sagemaker_prefers_aws_prices_and_falls_back_to_the_builtin_catalog(company, http):
    http.serve_aws()
    price_source_refresh(source=source("aws-sagemaker"))

    on_aws = plan(company.a, target="sagemaker", instance_type="ml.m5.large", replicas=1)
    portal_name = plan(company.a, target="sagemaker", instance_type="cpu.large", replicas=1)
    local = plan(company.a, target="local", instance_type="cpu.large", replicas=1)

    assert (on_aws.provenance.source, on_aws.list_hourly) == ("aws-sagemaker", Decimal("0.115"))
    assert on_aws.provenance.snapshot_published_at is not None
    assert (portal_name.provenance.source, portal_name.list_hourly) == ("builtin", Decimal("0.23"))
    assert local.provenance.source == "builtin"
