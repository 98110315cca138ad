"""Long work is followed in place: the page swaps its progress region without reloading, and the
portal's stylesheet applies under the content security policy (nothing inline is blocked)."""

from __future__ import annotations

import pytest

from portal.catalog.models import SyncRun
from tenants.scoping import tenant_scope
from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_running_sync_finishes_on_the_page_without_a_reload_or_a_blocked_style(
    page, live_server, company
):
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    with tenant_scope(company.a):
        running = SyncRun.objects.create(tenant=company.a, trigger="page")

    sign_in(page, live_server, "amir")
    page.goto(f"{live_server.url}/t/{company.a.slug}/sync/")
    assert page.get_by_role("status").get_by_text("A sync is running").is_visible()
    page.evaluate("window.stillTheSamePage = true")

    with tenant_scope(company.a):
        SyncRun.objects.filter(pk=running.pk).update(status="succeeded", models_seen=4)
    page.locator("#sync-status:not([hx-trigger])").wait_for(timeout=10000)

    assert page.get_by_role("status").count() == 0
    assert page.locator("#sync-status td", has_text="succeeded").count() == 1
    assert page.evaluate("window.stillTheSamePage") is True

    page.goto(f"{live_server.url}/prices/")
    aligned = page.locator("td.amount").first.evaluate("cell => getComputedStyle(cell).textAlign")
    assert aligned == "right"
    assert blocked == []


def test_a_failed_poll_leaves_the_region_as_it_was_and_the_next_poll_follows_the_work(
    page, live_server, company
):
    with tenant_scope(company.a):
        running = SyncRun.objects.create(tenant=company.a, trigger="page")
    sign_in(page, live_server, "amir")
    polls: list[str] = []

    def fail_the_first_two_polls(route):
        if route.request.headers.get("hx-request") != "true":
            route.continue_()
            return
        polls.append(route.request.url)
        if len(polls) == 1:
            route.abort("connectionreset")
        elif len(polls) == 2:
            route.fulfill(status=503, body="The portal is restarting.")
        else:
            route.continue_()

    page.route(f"**/t/{company.a.slug}/sync/", fail_the_first_two_polls)
    page.goto(f"{live_server.url}/t/{company.a.slug}/sync/")
    with tenant_scope(company.a):
        SyncRun.objects.filter(pk=running.pk).update(status="succeeded", models_seen=4)

    page.locator("#sync-status:not([hx-trigger])").wait_for(timeout=20000)
    assert len(polls) == 3
    assert page.locator("#sync-status td", has_text="succeeded").count() == 1


def test_finance_follows_a_month_close_on_the_queue_until_it_is_closed(page, live_server, company):
    from datetime import date

    from chargeback.models import BillingPeriod

    closing = BillingPeriod.objects.create(
        month=date(2026, 9, 1), state="closing", total=4, processed=1
    )
    polled: list[str] = []
    page.on(
        "request",
        lambda request: (
            polled.append(request.headers.get("hx-target", ""))
            if request.headers.get("hx-request") == "true"
            else None
        ),
    )
    sign_in(page, live_server, "fiona")
    page.goto(f"{live_server.url}/finance/statements/")
    assert page.locator("#close-2026-09").is_visible()
    page.evaluate("window.stillTheSamePage = true")

    BillingPeriod.objects.filter(pk=closing.pk).update(state="closed", processed=4)
    page.locator("#month-close:not([hx-trigger])").wait_for(timeout=15000)

    assert page.locator("#month-close li", has_text="2026-09: closed").count() == 1
    assert polled and set(polled) == {"month-close"}
    assert page.evaluate("window.stillTheSamePage") is True
