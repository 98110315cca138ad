"""Journeys through the pages in a real browser, each starting at the login page."""

from __future__ import annotations

import pytest

from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_signs_in_creates_a_service_token_and_sees_it_listed(page, live_server, company):
    sign_in(page, live_server, "alice")
    page.get_by_role("heading", name="Acme Retail").wait_for()
    page.get_by_role("link", name="New token").click()
    page.get_by_label("Name").fill("CI pipeline")
    page.get_by_label("Deploy").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("mlp_")
    page.get_by_role("link", name="Back to Acme Retail").click()
    row = page.get_by_role("row").filter(has_text="CI pipeline")
    assert "active" in row.inner_text()
    assert secret not in page.content()


def test_a_viewer_sees_no_action_buttons(page, live_server, company):
    sign_in(page, live_server, "ava")
    page.get_by_role("heading", name="Acme Retail").wait_for()
    assert page.get_by_role("link", name="New token").count() == 0
    assert page.get_by_role("button", name="Revoke").count() == 0
    assert page.get_by_role("link", name="Admin").count() == 0
