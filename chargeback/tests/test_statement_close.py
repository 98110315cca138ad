"""The month close: one draft statement per tenant, locked, idempotent, rounded once per line."""

from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.management import call_command

from chargeback.models import BillingPeriod, PeriodState, Statement, StatementLine
from chargeback.services.close import billing_period_close, period_statements, to_cent
from chargeback.services.rate_cards import rate_card_publish
from chargeback.services.statements import credit_issue, statement_finalize
from chargeback.tests.builders import at, closed_month
from governance.models import AuditEvent
from portal.core.errors import InvalidRequest
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR

pytestmark = pytest.mark.django_db


def snapshot(period):
    """What a month's statements say, line by line."""
    statements = []
    for statement in period_statements(period):
        with tenant_scope(statement.tenant_id):
            lines = list(
                StatementLine.objects.filter(statement=statement).values_list(
                    "position", "description", "billed_cost", "amount"
                )
            )
        statements.append((statement.pk, statement.tenant.slug, statement.total, lines))
    return statements


def statement_of(tenant, period) -> Statement:
    with tenant_scope(tenant):
        return Statement.objects.select_related("period", "tenant").get(period=period)


def lines_of(statement):
    with tenant_scope(statement.tenant_id):
        return list(StatementLine.objects.filter(statement=statement).order_by("position"))


def test_closing_a_month_drafts_one_statement_per_tenant(company):
    period = closed_month(company)

    assert (period.state, period.processed, period.total) == (PeriodState.CLOSED, 2, 2)
    a, b = statement_of(company.a, period), statement_of(company.b, period)
    assert (a.state, b.state) == ("draft", "draft")
    services = [(line.service, line.meter) for line in lines_of(a)]
    assert services == [
        ("inference", "deployment_hours"),
        ("inference", "requests"),
        ("monitoring", "monitored_model_months"),
    ]
    # B: 24 h of gpu.t4 at $0.736/h plus 10% markup.
    [gpu] = lines_of(b)
    assert gpu.amount == to_cent(24 * Decimal("0.736") * Decimal("1.1")) == Decimal("19.43")


def test_closing_a_month_twice_gives_the_same_statements(company):
    period = closed_month(company)
    before = snapshot(period)

    again = billing_period_close(month=period.month, actor=TEST_ACTOR)
    call_command("close_billing_period", "--period", "2026-10", stdout=io.StringIO())

    assert again.pk == period.pk and again.state == PeriodState.CLOSED
    assert snapshot(again) == before
    assert Statement.objects.dangerously_across_tenants().count() == 2


def test_a_close_that_stopped_half_way_continues_where_it_stopped(company, monkeypatch):
    from chargeback.services import close

    calls = []
    real = close._draft_batch

    def fail_after_first(period, card, tenant_ids, actor):
        calls.append(tenant_ids)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        real(period, card, tenant_ids, actor)

    monkeypatch.setattr(close, "TENANTS_PER_BATCH", 1)
    monkeypatch.setattr(close, "_draft_batch", fail_after_first)
    with pytest.raises(RuntimeError):
        closed_month(company)
    stopped = BillingPeriod.objects.get(month=at("2026-10-01 00:00:00").date())
    assert (stopped.state, stopped.processed, stopped.total) == (PeriodState.CLOSING, 1, 2)
    assert "worker lost" in stopped.last_error

    monkeypatch.setattr(close, "_draft_batch", real)
    period = billing_period_close(month=stopped.month, actor=TEST_ACTOR)

    assert (period.state, period.processed, period.last_error) == (PeriodState.CLOSED, 2, "")
    assert period_statements(period).count() == 2


def test_statement_totals_equal_the_sum_of_their_lines_to_the_cent(company):
    rate_card_publish(actor=TEST_ACTOR, markup_percent=Decimal("12.345"))
    period = closed_month(company)

    for statement in period_statements(period):
        lines = lines_of(statement)
        assert statement.total == sum(line.amount for line in lines)
        for line in lines:
            assert line.amount == line.billed_cost.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_a_line_is_rounded_once_half_up():
    assert to_cent(Decimal("0.125")) == Decimal("0.13")
    assert to_cent(Decimal("-0.125")) == Decimal("-0.13")
    assert to_cent(Decimal("0.124999999999")) == Decimal("0.12")


def test_platform_overhead_is_spread_by_fixed_weights(company):
    rate_card_publish(
        actor=TEST_ACTOR,
        overhead_monthly=Decimal("1000"),
        overhead_allocation="weights",
        overhead_weights={company.a.slug: 3, company.b.slug: 1},
    )
    period = closed_month(company)

    overhead = {
        statement.tenant.slug: [
            line.amount for line in lines_of(statement) if line.kind == "overhead"
        ]
        for statement in period_statements(period)
    }
    assert overhead == {company.a.slug: [Decimal("750.00")], company.b.slug: [Decimal("250.00")]}


def test_a_credit_note_appears_on_the_next_statement_as_a_negative_line(company):
    october = closed_month(company, "2026-10")
    statement = statement_of(company.a, october)
    with tenant_scope(company.a):
        finalized = statement_finalize(actor=TEST_ACTOR, statement=statement)
        first_line = lines_of(finalized)[0]
        credit = credit_issue(
            actor=TEST_ACTOR,
            statement=finalized,
            amount=Decimal("0.25"),
            reason="Hours billed during the outage of 5 October.",
            line=first_line,
        )

    november = closed_month(company, "2026-11")

    next_statement = statement_of(company.a, november)
    [credit_line] = [line for line in lines_of(next_statement) if line.kind == "credit"]
    assert credit_line.amount == Decimal("-0.25")
    assert credit_line.credit_note_id == credit.pk
    assert finalized.number in credit_line.description
    assert next_statement.total == sum(line.amount for line in lines_of(next_statement))
    with tenant_scope(company.a):
        credit.refresh_from_db()
        assert credit.applied_to_id == next_statement.pk
    assert statement_of(company.b, november).total >= 0  # B's statement has no credit


def test_the_close_is_audited_with_every_drafted_statement(company):
    period = closed_month(company)

    closed = AuditEvent.objects.dangerously_across_tenants().get(action="billing_period.closed")
    assert closed.object_id == period.label
    assert sorted(s["tenant"] for s in closed.after["statements"]) == [
        company.a.slug,
        company.b.slug,
    ]


def test_a_month_that_has_not_ended_cannot_be_closed(company):
    with pytest.raises(InvalidRequest, match="has not ended yet"):
        billing_period_close(
            month=at("2026-10-01 00:00:00").date(), actor=TEST_ACTOR, now=at("2026-10-31 23:00:00")
        )
