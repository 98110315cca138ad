"""A tenant owner answers the maturity checklist in a real browser and sees the unit's level."""

from __future__ import annotations

import pytest

from governance.tests.builders import make_version
from portal.insights.models import MaturityAssessment
from tenants.scoping import tenant_scope
from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER_QUESTIONS = (
    "Can training be started with a single command/trigger?",
    "Is there an automatic or semi-automatic retraining process?",
    "Is there a formal approval process for high-risk models?",
    "Are model tests (unit, integration, shadow) automated?",
    "Are MLOps team KPIs measured and reported to management?",
)


def test_a_tenant_owner_answers_the_checklist_and_sees_the_level(page, live_server, company):
    make_version(company.a, "churn-model")

    sign_in(page, live_server, "alice")
    page.get_by_role("link", name="Maturity checklist").click()
    page.get_by_role("heading", name="Acme Retail: MLOps maturity").wait_for()
    tracking = page.get_by_role("row").filter(has_text="track ML experiments").inner_text()
    assert "From the portal" in tracking and "MLflow run that trained it" in tracking
    assert page.get_by_role("radio").count() == 2 * len(OWNER_QUESTIONS)

    for question in OWNER_QUESTIONS:
        page.get_by_role("group", name=question).get_by_label("Yes").check()
    page.get_by_role("button", name="Save assessment").click()

    status = page.get_by_role("status").inner_text()
    assert "Assessment saved: 9 of 16 yes, Level 2." in status
    assert page.locator("#maturity-level").inner_text() == "Level 2"
    assert page.get_by_role("img", name="Yes answers of each saved assessment").count() == 1
    with tenant_scope(company.a):
        saved = MaturityAssessment.objects.get()
    assert saved.yes_count == 9 and saved.assessed_by_id == company.alice.pk
