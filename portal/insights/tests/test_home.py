"""The home page: the sections of each role a person holds, with a bounded number of queries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chargeback.models import BillingPeriod, Budget, PriceSource, Statement
from governance.models import AuditVerification, ModelCertification
from governance.tests.builders import classify, make_version
from portal.catalog.models import RegisteredModel, SyncRun
from portal.deployments.models import GatewayMinute
from portal.insights.models import MaturityAssessment
from portal.insights.tests.builders import approval, deploy, drifted, incident
from tenants.models import TenantRole
from tenants.scoping import tenant_scope
from tests.builders import add_member, signed_in

pytestmark = pytest.mark.django_db


def home(user) -> str:
    answer = signed_in(user).get("/")
    assert answer.status_code == 200
    return answer.content.decode().split("<main", 1)[1]


def test_an_engineer_sees_their_deployments_with_drift_their_requests_and_models(company):
    version = make_version(company.a, "churn")
    mine = deploy(company.a, version, name="churn-prod", requested_by=company.amir)
    drifted(company.a, mine)
    waiting = deploy(
        company.a, version, name="churn-next", state="pending_approval", requested_by=company.amir
    )
    approval(company.a, waiting, requested_by=company.amir)
    other = make_version(company.a, "fraud")
    deploy(company.a, other, name="fraud-prod", requested_by=company.alice)
    html = home(company.amir)
    assert "Your deployments" in html and "churn-prod r1" in html and "churn-next r1" in html
    assert "Drift: drift" in html and "Drifted: age" in html
    assert "Your open requests" in html and "churn v1</a> to production: pending" in html
    assert "Your models" in html and ">churn</a>" in html
    assert "fraud-prod" not in html and ">fraud</a>" not in html
    assert "New token" not in html and "Spend this month" not in html


def test_the_engineer_section_runs_the_same_queries_for_one_deployment_or_many(company):
    version = make_version(company.a, "churn")
    deploy(company.a, version, name="first", requested_by=company.amir)
    with CaptureQueriesContext(connection) as one:
        home(company.amir)
    for index in range(4):
        deploy(company.a, version, name=f"more-{index}", requested_by=company.amir)
    with CaptureQueriesContext(connection) as five:
        home(company.amir)
    assert len(five) == len(one)


def test_a_tenant_owner_sees_spend_against_budget_maturity_risk_tiers_and_incidents(company):
    version = make_version(company.a, "credit")
    classify(company.a, version, "high")
    make_version(company.a, "churn")
    incident(company.a, title="Scores drifted")
    with tenant_scope(company.a):
        Budget.objects.create(tenant=company.a, amount=Decimal("1000.00"), set_by_label="alice")
        MaturityAssessment.objects.create(
            tenant=company.a,
            answers={},
            answered_by={},
            yes_count=10,
            level=2,
            assessed_by_label="alice",
        )
    html = home(company.alice)
    assert "Spend this month" in html and "of a 1000.00 USD budget" in html
    assert "Level 2</strong>, 10 of 16 yes" in html
    assert '<th scope="row">High risk</th><td>1</td>' in html
    assert '<th scope="row">Not classified</th><td>1</td>' in html
    assert "Scores drifted" in html
    assert "New token" in html and "Maturity checklist" in html


def test_a_governance_lead_sees_the_queue_overdue_certifications_incidents_and_the_audit_chain(
    company,
):
    version = make_version(company.a, "credit")
    pending = deploy(company.a, version, state="pending_approval")
    approval(company.a, pending, age=timedelta(days=9))
    with tenant_scope(company.a):
        ModelCertification.objects.create(
            tenant=company.a,
            model=RegisteredModel.objects.get(name="credit"),
            certified_at=timezone.now() - timedelta(days=400),
            due_at=timezone.now() - timedelta(days=10),
            state="overdue",
        )
    incident(company.b, title="Leads model down", severity="sev1")
    AuditVerification.objects.create(
        ok=True, chains_checked=3, events_checked=42, finished_at=timezone.now()
    )
    html = home(company.grace)
    assert 'Approval queue <span class="muted">1 open</span>' in html
    assert "1 high risk" in html and "1 older than a week" in html
    assert 'Overdue re-certifications <span class="muted">1</span>' in html
    assert "Leads model down" in html and "Bravo Marketing" in html
    assert "intact" in html and "42 events" in html
    assert "Chargeback" not in html


def test_finance_sees_statements_to_review_and_totals_by_unit_and_month(company):
    october = BillingPeriod.objects.create(month=date(2026, 10, 1), state="closed")
    for tenant, total, state in ((company.a, "120.50", "draft"), (company.b, "80.00", "finalized")):
        with tenant_scope(tenant):
            Statement.objects.create(
                tenant=tenant, period=october, total=Decimal(total), state=state
            )
    html = home(company.fiona)
    assert 'Statements to review <span class="muted">1</span>' in html
    assert "Acme Retail 2026-10" in html
    assert "Totals by unit and month" in html and "120.50" in html and "80.00" in html
    assert "<td><strong>200.50</strong></td>" in html
    assert 'href="/finance/statements/"' in html
    assert "Approval queue" not in html


def test_finance_follows_the_month_close_and_exports_finalized_statements_from_home(company):
    october = BillingPeriod.objects.create(month=date(2026, 10, 1), state="closed")
    BillingPeriod.objects.create(month=date(2026, 11, 1), state="closing", total=2, processed=1)
    with tenant_scope(company.b):
        final = Statement.objects.create(
            tenant=company.b,
            period=october,
            total=Decimal("80.00"),
            state="finalized",
            number="CB-2026-0001",
        )
    head, html = signed_in(company.fiona).get("/").content.decode().split("<main", 1)
    assert '<progress id="close-2026-11" value="1" max="2">' in html and "1 of 2" in html
    assert 'id="month-close" hx-get="/" hx-trigger="every 3s"' in html
    assert "portal/htmx.min.js" in head
    assert '2026-10: <span class="badge ok">closed</span>' in html
    assert "Finalized statements to export" in html and "CB-2026-0001" in html
    export = f"/api/v1/statements/{final.pk}/export/?format="
    for kind in ("csv", "pdf", "focus"):
        assert f'href="{export}{kind}"' in html


def test_a_platform_admin_sees_units_sync_health_price_sources_and_capture_drops(company):
    version = make_version(company.a, "churn")
    live = deploy(company.a, version, name="churn-prod")
    with tenant_scope(company.a):
        SyncRun.objects.create(tenant=company.a, status="failed", error="MLflow is unreachable")
        GatewayMinute.objects.create(
            tenant=company.a, deployment=live, minute=timezone.now(), captured=90, dropped=7
        )
    PriceSource.objects.create(name="aws", kind="aws_bulk", status="failed", last_error="HTTP 503")
    html = home(company.adam)
    assert 'Units and MLflow sync <span class="muted">1 failing</span>' in html
    assert "MLflow is unreachable" in html and "never synced" in html
    assert "aws" in html and "HTTP 503" in html
    assert 'Capture drops, last 24 hours <span class="muted">7</span>' in html
    assert "churn-prod" in html


def test_a_person_with_several_roles_sees_the_sections_of_each(company):
    add_member(company.b, company.grace, TenantRole.OWNER)
    html = home(company.grace)
    assert "Governance" in html and "Approval queue" in html
    assert 'Bravo Marketing</a> <span class="muted">Tenant owner</span>' in html
    assert "Spend this month" in html


def test_a_viewer_sees_their_unit_without_actions(company):
    html = home(company.ava)
    assert "Acme Retail" in html and "Viewer" in html
    assert "New token" not in html and "Your deployments" not in html


def test_a_platform_admin_follows_a_month_close_from_home(company):
    BillingPeriod.objects.create(
        month=date(2026, 11, 1),
        state="closing",
        total=2,
        processed=1,
        last_error="PostgreSQL went away.",
    )
    head, html = signed_in(company.adam).get("/").content.decode().split("<main", 1)
    assert "<h3>Month close</h3>" in html
    assert '<progress id="close-2026-11" value="1" max="2">' in html
    assert "The close stopped: PostgreSQL went away." in html
    assert 'id="month-close" hx-get="/" hx-trigger="every 3s"' in html
    assert "portal/htmx.min.js" in head
    assert 'href="/finance/statements/#month-close"' in html
