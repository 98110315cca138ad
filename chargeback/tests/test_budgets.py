"""Budgets: who sets them, month to date and the run-rate forecast, alerts once per threshold."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache

from chargeback.models import Budget, BudgetAlert
from chargeback.services.budgets import (
    THRESHOLD_EVENT,
    Slice,
    budget_check,
    budget_set,
    month_spend,
    month_spend_shown,
    run_rate_forecast,
    top_slices,
)
from chargeback.services.metering import metering_run
from chargeback.tasks import check_budgets
from chargeback.tests.builders import at, live_deployment
from governance.models import AuditEvent
from tenants import notifications, webhooks
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for

pytestmark = pytest.mark.django_db
T4_HOUR = Decimal("0.736") * Decimal("1.1")  # gpu.t4 list price plus the default 10% markup


def budget_url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/budget/"


def test_an_owner_sets_the_budget_and_it_is_audited(company):
    answer = client_for(company.alice).put(
        budget_url(company.a), {"amount": "2500.00", "thresholds": [80, 50, 100]}, format="json"
    )

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["amount"], body["currency"], body["thresholds"]) == (
        "2500.00",
        "USD",
        [50, 80, 100],
    )
    assert body["set_by"] == "alice" and body["month_to_date"] == "0.00"
    with tenant_scope(company.a):
        budget = Budget.objects.get()
        event = AuditEvent.objects.get(action="budget.set")
    assert budget.set_by == company.alice
    assert event.after == {"amount": "2500.00", "currency": "USD", "thresholds": [50, 80, 100]}
    assert event.before is None and event.actor_label == "alice"


def test_changing_the_budget_records_what_it_was(company):
    owner = client_for(company.alice)
    owner.put(budget_url(company.a), {"amount": "100"}, format="json")
    owner.put(budget_url(company.a), {"amount": "150.50"}, format="json")

    with tenant_scope(company.a):
        events = list(AuditEvent.objects.filter(action="budget.set").order_by("sequence"))
    assert [e.after["amount"] for e in events] == ["100.00", "150.50"]
    assert events[1].before["amount"] == "100.00"


def test_finance_and_admins_set_budgets_members_only_read_them(company):
    for person in (company.fiona, company.adam):
        answer = client_for(person).put(budget_url(company.a), {"amount": "900"}, format="json")
        assert answer.status_code == 200, person
    for person in (company.amir, company.ava):
        assert client_for(person).get(budget_url(company.a)).status_code == 200
        answer = client_for(person).put(budget_url(company.a), {"amount": "1"}, format="json")
        assert answer.status_code == 403, person


def test_another_tenant_gets_the_same_404_as_a_missing_one(company):
    bob = client_for(company.bob)
    missing = bob.get("/api/v1/tenants/no-such-unit/budget/")

    for answer in (
        bob.get(budget_url(company.a)),
        bob.put(budget_url(company.a), {"amount": "5"}, format="json"),
    ):
        assert (answer.status_code, answer.content) == (404, missing.content)


def test_a_budget_in_another_currency_or_with_odd_thresholds_is_refused_with_a_sentence(company):
    owner = client_for(company.alice)

    euros = owner.put(budget_url(company.a), {"amount": "10", "currency": "EUR"}, format="json")
    odd = owner.put(budget_url(company.a), {"amount": "10", "thresholds": [0]}, format="json")
    cents = owner.put(budget_url(company.a), {"amount": "10.001"}, format="json")

    assert euros.status_code == 400 and "USD" in euros.json()["detail"]
    assert odd.status_code == 400 and cents.status_code == 400
    with tenant_scope(company.a):
        assert not Budget.objects.exists()


def test_the_forecast_extends_the_run_rate_to_the_month_end(company):
    live_deployment(company.a, live_from="2026-10-01 00:00:00", instance_type="gpu.t4")
    metering_run(until=at("2026-10-11 00:00:00"))

    with tenant_scope(company.a):
        spend = month_spend(tenant=company.a, now=at("2026-10-11 00:40:00"))

    # 10 days of 31 elapsed (to the last full hour): 240 instance-hours so far.
    assert spend.month_to_date == 240 * T4_HOUR
    assert spend.forecast == 240 * T4_HOUR * Decimal(31) / Decimal(10)
    assert spend.forecast.quantize(Decimal("0.01")) == Decimal("602.34")


def test_late_usage_is_counted_once_not_extrapolated():
    forecast = run_rate_forecast(
        month_to_date=Decimal("130"),
        corrections=Decimal("30"),
        elapsed=at("2026-10-11 00:00:00") - at("2026-10-01 00:00:00"),
        length=at("2026-11-01 00:00:00") - at("2026-10-01 00:00:00"),
    )

    assert forecast == Decimal("30") + Decimal("100") * Decimal("3.1")


@pytest.fixture
def webhook(company, settings, monkeypatch, eager_celery):
    """A's endpoint for budget alerts; returns what it received (body, headers) and its secret."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    received: list[tuple[bytes, dict]] = []

    def receive(url, *, body, headers):
        received.append((body, headers))
        return webhooks.Answer(ok=True, status_code=200)

    monkeypatch.setattr(webhooks, "_post", receive)
    with tenant_scope(company.a):
        endpoint = notifications.webhook_endpoint_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            url="http://hooks.internal/budget",
            events=[THRESHOLD_EVENT],
            created_by=None,
        )
    return received, endpoint.secret


def check(company, now: str, capture):
    with capture(execute=True), tenant_scope(company.a):
        return [alert.threshold for alert in budget_check(tenant=company.a, now=at(now))]


def test_each_threshold_alerts_once_a_month_by_email_and_signed_webhook(
    company, webhook, django_capture_on_commit_callbacks
):
    received, secret = webhook
    with tenant_scope(company.a):
        budget_set(actor=TEST_ACTOR, tenant=company.a, amount=Decimal("30.00"))
    live_deployment(company.a, live_from="2026-10-01 00:00:00", instance_type="gpu.t4")

    metering_run(until=at("2026-10-02 00:00:00"))  # 24 h: 19.43, 65% of the budget
    first = check(company, "2026-10-02 00:05:00", django_capture_on_commit_callbacks)
    again = check(company, "2026-10-02 00:10:00", django_capture_on_commit_callbacks)
    metering_run(until=at("2026-10-03 00:00:00"))  # 48 h: 38.86, 130%
    second = check(company, "2026-10-03 00:05:00", django_capture_on_commit_callbacks)
    third = check(company, "2026-10-03 01:05:00", django_capture_on_commit_callbacks)

    assert (first, again, second, third) == ([50], [], [80, 100], [])
    assert [json.loads(body)["data"]["threshold"] for body, _ in received] == [50, 80, 100]
    for body, headers in received:
        assert headers["X-Portal-Event"] == THRESHOLD_EVENT
        assert headers["X-Portal-Signature"] == webhooks.sign(
            secret=secret,
            delivery_id=headers["X-Portal-Delivery"],
            timestamp=headers["X-Portal-Timestamp"],
            body=body.decode(),
        )
    data = json.loads(received[0][0])["data"]
    assert (data["month"], data["budget"], data["month_to_date"]) == ("2026-10", "30.00", "19.43")
    assert [m.to for m in mail.outbox] == [["alice@example.com"]] * 3
    assert "50% of the monthly budget" in mail.outbox[0].subject
    with tenant_scope(company.a):
        assert BudgetAlert.objects.count() == 3
        assert AuditEvent.objects.filter(action="budget.threshold_crossed").count() == 3


def test_a_new_month_alerts_again(company, webhook, django_capture_on_commit_callbacks):
    received, _ = webhook
    with tenant_scope(company.a):
        budget_set(actor=TEST_ACTOR, tenant=company.a, amount=Decimal("30.00"))
    live_deployment(company.a, live_from="2026-10-31 00:00:00", instance_type="gpu.t4")

    metering_run(until=at("2026-11-03 00:00:00"))  # 24 h in October, 48 h in November
    october = check(company, "2026-10-31 23:59:00", django_capture_on_commit_callbacks)
    november = check(company, "2026-11-03 00:05:00", django_capture_on_commit_callbacks)

    assert (october, november) == ([50], [50, 80, 100])
    assert len(received) == 4


def test_the_beat_task_checks_every_budget_and_a_second_run_sends_nothing(
    company, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    with tenant_scope(company.a):
        budget_set(actor=TEST_ACTOR, tenant=company.a, amount=Decimal("30.00"))
    with tenant_scope(company.b):
        budget_set(actor=TEST_ACTOR, tenant=company.b, amount=Decimal("1000000.00"))
    live_deployment(company.a, live_from="2026-10-01 00:00:00", instance_type="gpu.t4")
    metering_run(until=at("2026-10-03 00:00:00"))
    monkeypatch.setattr("django.utils.timezone.now", lambda: at("2026-10-03 00:05:00"))

    with django_capture_on_commit_callbacks(execute=True):
        first = check_budgets()
        second = check_budgets()

    assert first == {company.a.slug: [50, 80, 100]}
    assert second == {}
    assert len(mail.outbox) == 3


def test_pages_keep_the_months_spend_for_a_minute_and_alerts_price_afresh(company, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at("2026-10-11 00:40:00"))
    live_deployment(company.a, live_from="2026-10-01 00:00:00", instance_type="gpu.t4")
    metering_run(until=at("2026-10-06 00:00:00"))
    with tenant_scope(company.a):
        assert month_spend_shown(tenant=company.a).month_to_date == 120 * T4_HOUR

    metering_run(until=at("2026-10-11 00:00:00"))  # five more days metered
    with tenant_scope(company.a):
        assert month_spend_shown(tenant=company.a).month_to_date == 120 * T4_HOUR
        assert month_spend(tenant=company.a).month_to_date == 240 * T4_HOUR
        cache.clear()  # what a minute does
        assert month_spend_shown(tenant=company.a).month_to_date == 240 * T4_HOUR


def test_a_chart_keeps_the_largest_slices_and_one_bar_for_the_rest():
    slices = [Slice(f"deployment {n}", Decimal(100 - n)) for n in range(20)]

    charted = top_slices(slices, keep=12, rest="{count} others")

    assert [s.label for s in charted[:12]] == [f"deployment {n}" for n in range(12)]
    assert charted[12] == Slice("8 others", sum(Decimal(100 - n) for n in range(12, 20)))
    assert sum(s.amount for s in charted) == sum(s.amount for s in slices)
    assert top_slices(slices[:13], keep=12, rest="{count} others") == slices[:13]
