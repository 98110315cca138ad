"""The statements API: finance across tenants, each unit its own, finalized means frozen."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chargeback import tasks
from chargeback.exports import FOCUS_COLUMNS
from chargeback.models import Statement, UsageEvent
from chargeback.tests.builders import closed_month, first_line, live_deployment
from governance.models import AuditEvent
from portal.core.errors import InvalidRequest
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db
FOCUS_MANDATORY = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
FOCUS_SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
    "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
    "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
    "Storage", "Web", "Other",
}  # fmt: skip


@pytest.fixture
def october(company):
    period = closed_month(company)
    statements = {s.tenant_id: s for s in Statement.objects.dangerously_across_tenants()}
    return period, statements[company.a.pk], statements[company.b.pk]


def test_finance_reads_every_tenants_statements_in_a_constant_number_of_queries(company, october):
    finance = client_for(company.fiona)

    with CaptureQueriesContext(connection) as queries:
        answer = finance.get("/api/v1/statements/")

    assert answer.status_code == 200, answer.json()
    assert sorted(s["tenant"] for s in answer.json()["results"]) == [company.a.slug, company.b.slug]
    assert len(queries) <= 4
    detail = finance.get(f"/api/v1/statements/{october[2].pk}/").json()
    assert detail["lines"][0]["amount"] == "19.43"


def test_finance_cannot_touch_models_or_deployments(company, october):
    finance = client_for(company.fiona)

    for path in ("models", "deployments"):
        answer = finance.get(f"/api/v1/tenants/{company.a.slug}/{path}/")
        assert answer.status_code in (403, 404), path
    request = finance.post(
        f"/api/v1/tenants/{company.a.slug}/deployments/",
        {"model": "churn-10", "version": 1, "environment": "staging", "instance_type": "cpu.small"},
        format="json",
    )
    assert request.status_code in (403, 404)


def test_a_unit_reads_its_own_statements_but_not_the_finance_queue(company, october):
    _, a, _ = october
    alice = client_for(company.alice)

    own = alice.get(f"/api/v1/tenants/{company.a.slug}/statements/")
    queue = alice.get("/api/v1/statements/")

    assert [s["id"] for s in own.json()["results"]] == [a.pk]
    assert queue.status_code == 403
    assert alice.get(f"/api/v1/statements/{a.pk}/").status_code == 200
    assert alice.post(f"/api/v1/statements/{a.pk}/finalize/").status_code == 403


def test_tenant_b_never_sees_a_statement_of_a(company, october):
    _, a, _ = october
    bob = client_for(company.bob)
    missing = bob.get("/api/v1/statements/999999/")

    for path in (
        f"/api/v1/statements/{a.pk}/",
        f"/api/v1/statements/{a.pk}/export/?format=csv",
        f"/api/v1/tenants/{company.b.slug}/statements/{a.pk}/",
        f"/api/v1/tenants/{company.a.slug}/statements/",
    ):
        answer = bob.get(path)
        assert (answer.status_code, answer.content) == (404, missing.content), path
    dispute = bob.post(
        f"/api/v1/tenants/{company.b.slug}/statements/{a.pk}/lines/{first_line(a).pk}/disputes/",
        {"comment": "Not ours."},
        format="json",
    )
    assert (dispute.status_code, dispute.content) == (404, missing.content)
    assert bob.post(f"/api/v1/statements/{a.pk}/void/", {"reason": "x"}).status_code == 404


def test_a_finalized_statement_cannot_change(company, october):
    _, a, _ = october
    finance = client_for(company.fiona)
    assert finance.post(f"/api/v1/statements/{a.pk}/review/").json()["state"] == "in_review"
    finalized = finance.post(f"/api/v1/statements/{a.pk}/finalize/").json()
    assert finalized["state"] == "finalized"
    assert finalized["number"] == f"CB-{datetime.now().year}-0001"

    for action, body in (
        ("finalize", {}),
        ("review", {}),
        ("void", {"reason": "Wrong month."}),
    ):
        answer = finance.post(f"/api/v1/statements/{a.pk}/{action}/", body, format="json")
        assert answer.status_code == 409, action
        assert answer.json()["code"] == "conflict"
    with tenant_scope(company.a):
        assert Statement.objects.get(pk=a.pk).number == finalized["number"]
    actions = AuditEvent.objects.dangerously_across_tenants().filter(object_type="statement")
    assert {"statement.in_review", "statement.finalized"} <= set(
        actions.values_list("action", flat=True)
    )


def test_a_draft_is_void_with_a_reason(company, october):
    _, _, b = october
    finance = client_for(company.fiona)

    without = finance.post(f"/api/v1/statements/{b.pk}/void/", {}, format="json")
    void = finance.post(f"/api/v1/statements/{b.pk}/void/", {"reason": "Test tenant."})

    assert without.status_code == 400
    assert (void.json()["state"], void.json()["void_reason"]) == ("void", "Test tenant.")


def test_an_owner_disputes_a_line_and_finance_settles_it_with_a_credit_note(company, october):
    _, a, _ = october
    line = first_line(a)
    url = f"/api/v1/tenants/{company.a.slug}/statements/{a.pk}/lines/{line.pk}/disputes/"

    engineer = client_for(company.amir).post(url, {"comment": "Too many hours."}, format="json")
    dispute = client_for(company.alice).post(url, {"comment": "Too many hours."}, format="json")

    assert engineer.status_code == 403
    assert dispute.status_code == 201, dispute.json()
    credit = client_for(company.fiona).post(
        f"/api/v1/statements/{a.pk}/credit/",
        {"dispute": dispute.json()["id"], "amount": "0.10", "reason": "Half an hour of outage."},
        format="json",
    )
    assert credit.status_code == 201, credit.json()
    seen = client_for(company.alice).get(f"/api/v1/tenants/{company.a.slug}/statements/{a.pk}/")
    [settled] = seen.json()["lines"][0]["disputes"]
    assert (settled["state"], settled["credit_note"]) == ("settled", credit.json()["id"])
    assert seen.json()["credit_notes"][0]["amount"] == "0.10"


def test_the_csv_export_carries_every_line(company, october):
    _, a, _ = october
    answer = client_for(company.alice).get(f"/api/v1/statements/{a.pk}/export/?format=csv")

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert sum(Decimal(row["amount"]) for row in rows) == a.total
    assert rows[0]["meter"] == "deployment_hours"


def test_the_pdf_export_is_a_real_pdf(company, october):
    _, a, _ = october
    answer = client_for(company.fiona).get(f"/api/v1/statements/{a.pk}/export/?format=pdf")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-") and b"%%EOF" in answer.content[-1024:]


def test_an_unknown_export_format_is_a_400_in_json(company, october):
    _, a, _ = october
    answer = client_for(company.fiona).get(f"/api/v1/statements/{a.pk}/export/?format=xlsx")

    assert answer.status_code == 400
    assert "csv, pdf, focus" in answer.json()["detail"]


def test_the_focus_export_has_every_mandatory_column_with_valid_values(company, october):
    _, a, _ = october
    with tenant_scope(company.a):
        from chargeback.services.statements import credit_issue, statement_finalize
        from tests.builders import TEST_ACTOR

        statement_finalize(actor=TEST_ACTOR, statement=a)
        credit_issue(actor=TEST_ACTOR, statement=a, amount=Decimal("0.05"), reason="Goodwill.")
    november = closed_month(company, "2026-11")
    with tenant_scope(company.a):
        next_statement = Statement.objects.get(period=november)

    answer = client_for(company.fiona).get(
        f"/api/v1/statements/{next_statement.pk}/export/?format=focus"
    )

    assert answer.status_code == 200
    reader = csv.DictReader(io.StringIO(answer.content.decode()))
    assert set(FOCUS_MANDATORY) <= set(reader.fieldnames or ())
    assert list(reader.fieldnames or ()) == list(FOCUS_COLUMNS)
    rows = list(reader)
    assert {row["ChargeCategory"] for row in rows} == {"Usage", "Credit"}
    for row in rows:
        for column in ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost"):
            Decimal(row[column])  # a plain decimal
        assert row["ChargeClass"] in ("", "Correction")
        assert row["ServiceCategory"] in FOCUS_SERVICE_CATEGORIES
        assert row["BillingCurrency"] == "USD"
        assert (row["BillingPeriodStart"], row["BillingPeriodEnd"]) == (
            "2026-11-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
        )
        for column in ("BillingAccountId", "ChargeDescription", "InvoiceIssuerName",
                       "ProviderName", "PublisherName", "ServiceName", "SubAccountId"):  # fmt: skip
            assert row[column], column
        assert isinstance(json.loads(row["Tags"]), dict)
        if row["ChargeCategory"] == "Usage":
            assert Decimal(row["PricingQuantity"]) > 0 and row["PricingUnit"]
            assert Decimal(row["ConsumedQuantity"]) > 0 and row["ConsumedUnit"]
        else:
            assert row["ChargeClass"] == "Correction" and Decimal(row["BilledCost"]) < 0
            assert row["ConsumedQuantity"] == "" and row["PricingUnit"] == ""
    assert sum(Decimal(row["BilledCost"]) for row in rows) == next_statement.total


def test_finance_sees_the_progress_of_each_month_close(company, october):
    answer = client_for(company.fiona).get("/api/v1/billing-periods/")

    [row] = [p for p in answer.json()["results"] if p["period"] == "2026-10"]
    assert (row["state"], row["processed"], row["total"]) == ("closed", 2, 2)
    assert client_for(company.alice).get("/api/v1/billing-periods/").status_code == 403


def test_finance_queues_a_month_close_and_a_unit_member_cannot(
    company, eager_celery, django_capture_on_commit_callbacks
):
    from chargeback.tests.builders import live_deployment

    live_deployment(company.a, live_from="2026-10-05 10:15:30", live_until="2026-10-05 12:00:00")

    with django_capture_on_commit_callbacks(execute=True):
        queued = client_for(company.fiona).post(
            "/api/v1/billing-periods/close/", {"period": "2026-10"}, format="json"
        )
    refused = client_for(company.alice).post(
        "/api/v1/billing-periods/close/", {"period": "2026-10"}, format="json"
    )

    assert queued.status_code == 202 and refused.status_code == 403
    with tenant_scope(company.a):
        [statement] = Statement.objects.filter(period__month__year=2026, period__month__month=10)
    assert statement.total > 0  # the task metered the month's hours before closing it
    asked = AuditEvent.objects.dangerously_across_tenants().get(
        action="billing_period.close_queued"
    )
    assert (asked.object_id, asked.actor_id) == ("2026-10", company.fiona.pk)


@pytest.mark.parametrize("period", ["0000-11", "2026-13", "\u0662\u0660\u0662\u0666-\u0661\u0660"])
def test_a_statement_filter_that_is_not_a_calendar_month_is_a_400(company, october, period):
    answer = client_for(company.fiona).get("/api/v1/statements/", {"period": period})

    assert answer.status_code == 400 and answer.json()["code"] == "invalid"


def test_a_month_that_has_not_ended_is_refused_before_any_hour_of_it_is_metered(
    company, django_capture_on_commit_callbacks
):
    now = timezone.now()
    live_deployment(company.a, live_from=f"{now - timedelta(days=3):%Y-%m-%d %H:%M:%S}")
    next_year = f"{now.year + 1}-01"

    with django_capture_on_commit_callbacks() as queued:
        answers = [
            client_for(company.fiona).post(
                "/api/v1/billing-periods/close/", {"period": period}, format="json"
            )
            for period in (f"{now:%Y-%m}", next_year, "9999-12")
        ]
    with pytest.raises(InvalidRequest, match="has not ended yet"):
        tasks.close_billing_period(period=next_year)

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert "has not ended yet" in answers[0].json()["detail"] and queued == []
    with tenant_scope(company.a):
        assert not UsageEvent.objects.exists()
