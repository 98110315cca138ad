"""Finance finalizes a unit's draft statement from the review queue in a real browser."""

from __future__ import annotations

import pytest

from chargeback.models import Statement
from chargeback.tests.builders import closed_month
from tenants.scoping import tenant_scope
from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_finalizes_a_draft_statement_from_the_review_queue(page, live_server, company):
    closed_month(company)
    statement = Statement.objects.dangerously_across_tenants().get(tenant=company.a)

    sign_in(page, live_server, "fiona")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    page.get_by_role("heading", name="Statements for review").wait_for()
    totals = page.get_by_role("region", name="Totals by unit and month").inner_text()
    assert "Acme Retail" in totals and "Bravo Marketing" in totals

    row = page.get_by_role("row", name="Acme Retail 2026-10")
    row.get_by_role("button", name="Finalize Acme Retail 2026-10").click()

    message = page.get_by_role("status").inner_text()
    with tenant_scope(company.a):
        statement.refresh_from_db()
    assert statement.state == "finalized" and statement.number
    assert statement.number in message
    finalized_row = page.get_by_role("row", name="Acme Retail 2026-10").inner_text()
    assert statement.number in finalized_row and "Finalized" in finalized_row
