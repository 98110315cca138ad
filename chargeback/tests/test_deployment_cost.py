"""A deployment request carries its cost estimate in the policy's decision context."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.services.estimates import to_cents
from governance.services.policies import policy_publish
from governance.tests.builders import classify, make_version, request
from portal.deployments.services import cost_estimate
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for

pytestmark = pytest.mark.django_db
BUDGET_POLICY = """
name: acme-budget
tenants: [acme-retail]
rules:
  - id: too-expensive
    when: cost.known && cost.monthly > 1000.0
    outcome: deny
    reason: This deployment would cost {cost.monthly} USD a month; the unit's limit is 1000.
otherwise: {outcome: allow, reason: Within budget.}
"""


@pytest.fixture
def minimal_version(company):
    version = make_version(company.a, name="churn")
    classify(company.a, version, "minimal")
    return version


def test_a_policy_dry_run_carries_the_cost_in_its_context(company, minimal_version):
    answer = client_for(company.amir).post(
        "/api/v1/policies/dry-run/",
        {
            "tenant": company.a.slug,
            "model": "churn",
            "version": 1,
            "environment": "staging",
            "instance_type": "cpu.large",
            "replicas": 2,
        },
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    cost = answer.json()["context"]["cost"]
    # 2 x $0.23/h + 10% default markup, plus $100 a month of monitoring.
    monthly = Decimal("0.46") * 730 * Decimal("1.1") + 100
    assert cost["known"] is True
    assert (cost["monthly"], cost["currency"]) == (float(to_cents(monthly)), "USD")
    assert cost["provenance"]["source"] == "builtin"
    assert cost["provenance"]["rate_card_version"] == 0


def test_an_instance_type_without_a_price_leaves_the_cost_unknown(company):
    assert (
        cost_estimate(environment="staging", target="local", instance_type="tpu.v5", replicas=1)
        is None
    )


def test_a_policy_can_refuse_a_deployment_for_its_cost(company, minimal_version):
    with tenant_scope(company.a):
        policy_publish(actor=TEST_ACTOR, document=BUDGET_POLICY)

    cheap = request(company.a, minimal_version, company.amir, environment="staging")
    costly = request(
        company.a, minimal_version, company.amir, environment="production", instance_type="gpu.a100"
    )

    assert cheap.state == "approved"
    assert costly.state == "rejected"
    assert costly.decision["reasons"] == [
        "This deployment would cost 3697.44 USD a month; the unit's limit is 1000."
    ]
