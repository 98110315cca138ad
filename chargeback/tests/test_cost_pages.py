"""The cost, statement, review queue and price pages as each role sees them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.models import Budget, LineDispute, Statement
from chargeback.services.budgets import budget_set
from chargeback.tests.builders import closed_month, first_line
from governance.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def october(company):
    closed_month(company)
    statements = {s.tenant_id: s for s in Statement.objects.dangerously_across_tenants()}
    return statements[company.a.pk], statements[company.b.pk]


def costs_url(tenant) -> str:
    return f"/t/{tenant.slug}/costs/"


def statement_url(tenant, statement) -> str:
    return f"/t/{tenant.slug}/statements/{statement.pk}/"


# --- the unit's costs -----------------------------------------------------------------------------


def test_the_cost_page_shows_the_month_the_budget_bar_and_past_statements(company, october):
    with tenant_scope(company.a):
        budget_set(actor=TEST_ACTOR, tenant=company.a, amount=Decimal("500"))

    page = signed_in(company.alice).get(costs_url(company.a))

    assert page.status_code == 200
    html = page.content.decode()
    for text in ("Month to date", "Forecast for the month", "500.00 USD", "By service",
                 "By deployment", "The last 12 months", "2026-10", "Save budget"):  # fmt: skip
        assert text in html, text
    assert 'aria-label="Budget:' in html and "<svg" in html
    assert statement_url(company.a, october[0]) in html
    assert 'aria-current="page">Costs</a>' in html


def test_viewers_and_engineers_read_costs_without_the_budget_form(company, october):
    for person in (company.ava, company.amir):
        page = signed_in(person).get(costs_url(company.a))
        assert page.status_code == 200
        assert "Save budget" not in page.content.decode()
        refused = signed_in(person).post(costs_url(company.a), {"amount": "1", "thresholds": "50"})
        assert refused.status_code == 403
    with tenant_scope(company.a):
        assert not Budget.objects.exists()


def test_finance_sets_a_units_budget_from_the_cost_page(company):
    answer = signed_in(company.fiona).post(
        costs_url(company.a), {"amount": "1200.50", "thresholds": "50, 90%"}
    )

    assert answer.status_code == 302
    with tenant_scope(company.a):
        budget = Budget.objects.get()
        assert AuditEvent.objects.filter(action="budget.set", actor_label="fiona").count() == 1
    assert (budget.amount, budget.thresholds) == (Decimal("1200.50"), [50, 90])


def test_a_wrong_budget_is_explained_next_to_its_field(company):
    answer = signed_in(company.alice).post(
        costs_url(company.a), {"amount": "lots", "thresholds": "fifty"}
    )

    assert answer.status_code == 400
    html = answer.content.decode()
    assert "Write an amount such as 2500 or 2500.50." in html
    assert "Write whole percentages separated by commas" in html
    with tenant_scope(company.a):
        assert not Budget.objects.exists()


def test_another_unit_gets_the_same_404_as_a_missing_one(company, october):
    a, _ = october
    bob = signed_in(company.bob)

    assert bob.get("/t/no-such-unit/costs/").status_code == 404
    assert bob.get(costs_url(company.a)).status_code == 404
    assert bob.get(statement_url(company.a, a)).status_code == 404
    assert bob.get(statement_url(company.b, a)).status_code == 404  # A's statement under B


# --- a statement ---------------------------------------------------------------------------------


def test_the_statement_page_groups_lines_and_links_the_exports(company, october):
    a, _ = october

    page = signed_in(company.ava).get(statement_url(company.a, a))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Inference" in html and "Monitoring" in html and "churn-10 r1 (production)" in html
    assert f"{a.total} USD" in html
    for export in ("csv", "pdf", "focus"):
        assert f"/api/v1/statements/{a.pk}/export/?format={export}" in html
    assert "Send the dispute" not in html  # a viewer does not dispute
    assert "Finalize" not in html


def test_an_owner_disputes_a_line_with_a_comment(company, october):
    a, _ = october
    line = first_line(a)
    owner = signed_in(company.alice)
    statement_page = owner.get(statement_url(company.a, a)).content.decode()
    assert f'href="?dispute={line.pk}#line-{line.pk}"' in statement_page
    assert "Send the dispute" not in statement_page  # one form, for the line chosen
    chosen = owner.get(statement_url(company.a, a), {"dispute": line.pk}).content.decode()
    assert chosen.count("Send the dispute") == 1 and f'id="comment-{line.pk}"' in chosen

    empty = owner.post(statement_url(company.a, a), {"action": "dispute", "line": line.pk})
    sent = owner.post(
        statement_url(company.a, a),
        {"action": "dispute", "line": line.pk, "comment": "We stopped it at 11:00."},
    )

    assert empty.status_code == 400
    assert "Say what is wrong with the line" in empty.content.decode()
    assert sent.status_code == 302
    with tenant_scope(company.a):
        dispute = LineDispute.objects.get()
    assert (dispute.line_id, dispute.comment, dispute.raised_by) == (
        line.pk,
        "We stopped it at 11:00.",
        company.alice,
    )


def test_a_dispute_without_a_comment_marks_the_box_invalid_and_points_at_the_message(
    company, october
):
    a, _ = october
    line = first_line(a)
    html = (
        signed_in(company.alice)
        .post(statement_url(company.a, a), {"action": "dispute", "line": line.pk})
        .content.decode()
    )
    box = html.split(f'<textarea id="comment-{line.pk}"', 1)[1].split(">", 1)[0]
    assert f'aria-invalid="true" aria-describedby="comment-{line.pk}-error"' in box
    assert f'<p class="error" id="comment-{line.pk}-error" role="alert">Say what' in html


def test_a_viewer_cannot_post_a_dispute(company, october):
    a, _ = october
    answer = signed_in(company.ava).post(
        statement_url(company.a, a),
        {"action": "dispute", "line": first_line(a).pk, "comment": "no"},
    )

    assert answer.status_code == 403


# --- finance's queue -------------------------------------------------------------------------------


def test_finance_sees_the_queue_with_totals_and_a_tenant_engineer_does_not(company, october):
    a, b = october

    page = signed_in(company.fiona).get("/finance/statements/")

    assert page.status_code == 200
    html = page.content.decode()
    assert (
        "Totals by unit and month" in html and "Acme Retail" in html and "Bravo Marketing" in html
    )
    assert str(a.total + b.total) in html
    assert 'aria-current="page">Finance</a>' in html
    for person in (company.amir, company.alice, company.grace):
        assert signed_in(person).get("/finance/statements/").status_code == 403
        assert 'href="/finance/statements/"' not in signed_in(person).get("/").content.decode()


def test_the_queue_filters_by_state_and_month(company, october):
    finance = signed_in(company.fiona)

    drafts = finance.get("/finance/statements/", {"state": "draft", "month": "2026-10"})
    finalized = finance.get("/finance/statements/", {"state": "finalized"})
    wrong = finance.get("/finance/statements/", {"month": "October"})

    assert drafts.content.decode().count('<tr id="statement-') == 2
    assert finalized.content.decode().count('<tr id="statement-') == 0
    assert "Write the month as YYYY-MM" in wrong.content.decode()


@pytest.mark.parametrize("month", ["0000-10", "\u0662\u0660\u0662\u0666-\u0661\u0660"])
def test_the_queue_explains_a_month_that_is_not_a_calendar_month(company, october, month):
    wrong = signed_in(company.fiona).get("/finance/statements/", {"month": month})

    assert wrong.status_code == 200 and "Write the month as YYYY-MM" in wrong.content.decode()


def test_finance_finalizes_and_voids_from_the_queue(company, october):
    a, b = october
    finance = signed_in(company.fiona)

    done = finance.post("/finance/statements/", {"statement": a.pk, "action": "finalize"})
    no_reason = finance.post("/finance/statements/", {"statement": b.pk, "action": "void"})
    void = finance.post(
        "/finance/statements/", {"statement": b.pk, "action": "void", "reason": "Test unit."}
    )

    assert done.status_code == 302
    with tenant_scope(company.a):
        a.refresh_from_db()
    assert a.state == "finalized" and a.number.startswith("CB-")
    assert no_reason.status_code == 400
    assert "Say why the statement is void." in no_reason.content.decode()
    assert void.status_code == 302
    with tenant_scope(company.b):
        b.refresh_from_db()
    assert (b.state, b.void_reason) == ("void", "Test unit.")
    again = finance.post("/finance/statements/", {"statement": a.pk, "action": "finalize"})
    assert again.status_code == 400 and "never changes" in again.content.decode()


def test_finance_settles_a_dispute_with_a_credit_note_from_the_queue(company, october):
    a, _ = october
    line = first_line(a)
    signed_in(company.alice).post(
        statement_url(company.a, a), {"action": "dispute", "line": line.pk, "comment": "Too much."}
    )
    with tenant_scope(company.a):
        dispute = LineDispute.objects.get()
    finance = signed_in(company.fiona)
    assert "Too much." in finance.get("/finance/statements/").content.decode()

    too_much = finance.post(
        "/finance/statements/",
        {
            "statement": a.pk,
            "action": "credit",
            "dispute": dispute.pk,
            "amount": "9999",
            "reason": "x",
        },
    )
    settled = finance.post(
        "/finance/statements/",
        {"statement": a.pk, "action": "credit", "dispute": dispute.pk, "amount": "0.10",
         "reason": "Stopped early."},
    )  # fmt: skip

    assert too_much.status_code == 400 and "would exceed" in too_much.content.decode()
    assert settled.status_code == 302
    with tenant_scope(company.a):
        dispute.refresh_from_db()
        assert dispute.state == "settled" and dispute.credit_note.amount == Decimal("0.10")


def test_a_unit_owner_cannot_act_as_finance_on_its_statement(company, october):
    a, _ = october

    answer = signed_in(company.alice).post(statement_url(company.a, a), {"action": "finalize"})

    assert answer.status_code == 403
    with tenant_scope(company.a):
        a.refresh_from_db()
    assert a.state == "draft"


# --- prices ---------------------------------------------------------------------------------------


def test_everyone_reads_prices_and_only_finance_and_admins_see_source_health(company):
    engineer = signed_in(company.amir).get("/prices/", {"q": "gpu.a100"})
    admin = signed_in(company.adam).get("/prices/")
    finance = signed_in(company.fiona).get("/prices/", {"service": "training", "page": "1"})

    assert engineer.status_code == admin.status_code == finance.status_code == 200
    assert "4.48 USD" in engineer.content.decode() and "Last error" not in engineer.content.decode()
    assert "Last error" in admin.content.decode() and "Rate card in force" in admin.content.decode()
    assert "Last error" in finance.content.decode() and "13.83 USD" in finance.content.decode()
    assert "Refresh every enabled source" in admin.content.decode()
    assert "Refresh every enabled source" not in finance.content.decode()
    assert signed_in(company.fiona).post("/prices/").status_code == 403


def test_finance_queues_a_months_close_from_the_queue_and_follows_it(company, october):
    from datetime import date

    from chargeback.models import BillingPeriod

    finance = signed_in(company.fiona)
    page = finance.get("/finance/statements/").content.decode()
    assert '2026-10: <span class="badge ok">closed</span>' in page
    assert 'action="/finance/close/"' in page and "Close the month" in page
    assert 'id="month-close" hx-get' not in page

    asked = finance.post("/finance/close/", {"month": "2026-09"})
    assert asked.status_code == 302 and "?queued=" in asked["Location"]
    recorded = AuditEvent.objects.dangerously_across_tenants().get(
        action="billing_period.close_queued"
    )
    assert (recorded.object_id, recorded.actor_id) == ("2026-09", company.fiona.pk)
    waiting = finance.get(asked["Location"]).content.decode()
    assert "The close of 2026-09 is queued" in waiting
    assert "A close is queued; it starts when a worker takes it" in waiting
    assert 'id="month-close" hx-get="/finance/statements/?queued=' in waiting
    assert 'hx-trigger="every 3s"' in waiting and "portal/htmx.min.js" in waiting

    BillingPeriod.objects.create(month=date(2026, 9, 1), state="closing", total=4, processed=3)
    running = finance.get(asked["Location"]).content.decode()
    assert "A close is queued" not in running
    assert '<progress id="close-2026-09" value="3" max="4">' in running


@pytest.mark.parametrize(
    ("month", "says"),
    [
        ("September", "Write the month as YYYY-MM"),
        ("2026-10", "2026-10 is closed already"),
        ("2999-01", "has not ended"),
    ],
)
def test_a_month_that_cannot_be_closed_is_explained_next_to_its_field(
    company, october, month, says
):
    refused = signed_in(company.fiona).post("/finance/close/", {"month": month})
    html = refused.content.decode()
    assert refused.status_code == 400
    assert 'id="close-month_error"' in html and says in html
    assert 'aria-invalid="true"' in html.split('id="close-title"')[1]


def test_only_finance_and_platform_admins_close_a_month(company):
    for person in (company.alice, company.amir, company.ava):
        assert signed_in(person).post("/finance/close/", {"month": "2026-09"}).status_code == 403
    assert signed_in(company.adam).post("/finance/close/", {"month": "2026-09"}).status_code == 302


def test_a_live_refresh_of_the_month_close_answers_that_region_alone(company):
    from datetime import date

    from chargeback.models import BillingPeriod

    BillingPeriod.objects.create(month=date(2026, 9, 1), state="closing", total=4, processed=3)
    live = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "month-close"}
    for url in ("/finance/statements/", "/"):
        region = signed_in(company.fiona).get(url, **live).content.decode()
        polled = (
            f'<div id="month-close" hx-get="{url}" hx-trigger="every 3s" hx-select="#month-close"'
        )
        assert region.lstrip().startswith(polled), url
        assert '<progress id="close-2026-09" value="3" max="4">' in region
        assert "<html" not in region and "Statements" not in region

    member = signed_in(company.alice).get("/", **live).content.decode()
    assert "close-2026-09" not in member and "<html" in member
