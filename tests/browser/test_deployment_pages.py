"""An engineer requests a staging deployment of a minimal-risk model in a real browser."""

from __future__ import annotations

import pytest

from governance.tests.builders import classify, make_version
from portal.deployments.models import Deployment
from tenants.scoping import tenant_scope
from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_engineer_requests_a_staging_deployment_and_sees_its_page(page, live_server, company):
    version = make_version(company.a, "churn-model")
    classify(company.a, version, "minimal")

    sign_in(page, live_server, "amir")
    page.get_by_role("link", name="Acme Retail").first.click()
    page.get_by_role("navigation", name="Acme Retail").get_by_role(
        "link", name="Deployments"
    ).click()
    page.get_by_role("heading", name="Acme Retail: deployments").wait_for()
    page.get_by_role("link", name="Request a deployment").click()

    page.get_by_label("Model:", exact=True).fill("churn-model")
    page.get_by_label("Version:", exact=True).fill("1")
    page.get_by_label("Environment").select_option("staging")
    page.get_by_label("Instance type").fill("cpu.small")
    page.get_by_label("Replicas").fill("2")
    page.get_by_role("button", name="Show cost").click()
    cost = page.get_by_role("region", name="Cost estimate").inner_text()
    assert "per hour" in cost and "per month" in cost and "2 × cpu.small" in cost  # noqa: RUF001

    page.get_by_role("button", name="Request deployment").click()
    page.get_by_role("status").get_by_text("is rolling out").wait_for()
    heading = page.get_by_role("heading", level=1).inner_text()
    assert "churn-model-staging" in heading and "revision 1" in heading
    revisions = page.get_by_role("region", name="Revisions of churn-model-staging").inner_text()
    assert "v1" in revisions
    assert "Authorization: Bearer $TOKEN" in page.get_by_role("region", name="Call it").inner_text()

    with tenant_scope(company.a):
        deployment = Deployment.objects.get()
    assert (deployment.environment, deployment.replicas) == ("staging", 2)
    assert deployment.requested_by_id == company.amir.pk
