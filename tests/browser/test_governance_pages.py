"""A high-risk production request reviewed in a real browser by two governance leads."""

from __future__ import annotations

import pytest

from governance.tests.builders import approved_card, classify, make_version, request
from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def approve_from_the_queue(page, live_server, username: str, comment: str = "") -> None:
    sign_in(page, live_server, username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    page.get_by_role("heading", name="Approval requests").wait_for()
    page.get_by_role("link", name="credit-scorer v1").click()
    page.get_by_role("heading", name="Your decision").wait_for()
    if comment:
        page.get_by_label("Comment").fill(comment)
    page.get_by_role("button", name="Approve", exact=True).click()


def test_two_governance_leads_approve_a_high_risk_production_request(page, live_server, company):
    version = make_version(company.a)
    classify(company.a, version, "high")
    approved_card(company.a, version)
    request(company.a, version, company.amir, environment="production")

    approve_from_the_queue(page, live_server, "grace", comment="Card and metrics look right.")
    page.get_by_text("Your approval is recorded.").wait_for()
    assert "1 of 2 approved" in page.content()
    page.get_by_role("button", name="Sign out").click()

    approve_from_the_queue(page, live_server, "gus")
    page.get_by_text("The request is approved").wait_for()
    heading = page.get_by_role("heading", level=1).inner_text()
    assert "Approved" in heading
    decisions = page.get_by_role("region", name="Decisions").inner_text()
    assert "Card and metrics look right." in decisions
    assert page.get_by_role("button", name="Approve", exact=True).count() == 0
