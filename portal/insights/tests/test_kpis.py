"""Platform KPIs on known data: per unit and overall, by month, and who may read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.tests.builders import make_version
from portal.catalog.models import RegisteredModel
from portal.insights.kpis import kpi_report
from portal.insights.tests.builders import deploy, event, incident
from tenants.scoping import tenant_scope
from tests.builders import client_for, signed_in

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 10, 9, 0, tzinfo=UTC)
JUNE = datetime(2026, 6, 5, 9, 0, tzinfo=UTC)


def live(tenant, version, name, *, at, lead_hours, environment="production"):
    return deploy(
        tenant,
        version,
        name=name,
        environment=environment,
        created_at=at - timedelta(hours=lead_hours),
        live_from=at,
    )


def rollouts(tenant, deployment, *, at, count=1, action="deployment.deploying"):
    for _ in range(count):
        event(tenant, action=action, object_type="deployment", object_id=deployment.pk, at=at)


@pytest.fixture
def known(company):
    a1, a2 = make_version(company.a, "churn"), make_version(company.a, "fraud")
    with tenant_scope(company.a):
        RegisteredModel.objects.update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    a3 = make_version(company.a, "credit")
    with tenant_scope(company.a):
        RegisteredModel.objects.filter(name="credit").update(created_at=JUNE)
    first = live(company.a, a1, "churn", at=MAY, lead_hours=2)
    live(company.a, a2, "fraud", at=MAY + timedelta(days=1), lead_hours=4)
    june = live(company.a, a3, "credit", at=JUNE, lead_hours=10)
    live(company.a, a3, "credit-staging", at=JUNE, lead_hours=1, environment="staging")
    rollouts(company.a, first, at=MAY, count=2)
    rollouts(company.a, june, at=JUNE, count=3)
    rollouts(company.a, june, at=JUNE + timedelta(hours=1), action="deployment.rolled_back")
    rollouts(company.a, june, at=JUNE + timedelta(hours=2), action="deployment.failed")
    incident(company.a, opened_at=JUNE, resolved_after=timedelta(hours=2))
    incident(company.a, opened_at=JUNE, resolved_after=timedelta(hours=6))
    incident(company.a, opened_at=JUNE)
    b1 = make_version(company.b, "leads")
    with tenant_scope(company.b):
        RegisteredModel.objects.update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    live(company.b, b1, "leads", at=JUNE, lead_hours=1)
    return company


def test_a_units_kpis_by_month(known):
    with tenant_scope(known.a):
        report = kpi_report(tenants=[known.a], across=False, months=2, now=NOW)
    may, june = report.tenants[0].months
    assert (may.label, june.label) == ("2026-05", "2026-06")
    assert (may.deployments, may.lead_time_hours) == (2, Decimal("3.0"))
    assert (june.deployments, june.lead_time_hours) == (1, Decimal("10.0"))
    assert (may.rollouts, may.failures, may.change_failure_rate) == (2, 0, Decimal("0.0"))
    assert (june.rollouts, june.failures, june.change_failure_rate) == (3, 2, Decimal("66.7"))
    assert (june.incidents_resolved, june.time_to_resolve_hours) == (2, Decimal("4.0"))
    assert may.time_to_resolve_hours is None
    assert (may.models, june.models) == (2, 3)


def test_all_environments_count_staging_too(known):
    with tenant_scope(known.a):
        report = kpi_report(tenants=[known.a], across=False, months=2, now=NOW, environment="")
    assert report.tenants[0].months[1].deployments == 2


def test_overall_kpis_add_the_units_up(known):
    report = kpi_report(tenants=[known.a, known.b], across=True, months=2, now=NOW)
    june = report.overall[1]
    assert june.deployments == 2 and june.lead_time_hours == Decimal("5.5")
    assert june.models == 4
    assert [row.tenant.slug for row in report.tenants] == [known.a.slug, known.b.slug]
    assert report.tenants[1].months[1].lead_time_hours == Decimal("1.0")


def test_the_platform_report_runs_a_fixed_number_of_queries_whatever_the_units(known):
    with CaptureQueriesContext(connection) as two:
        kpi_report(tenants=[known.a, known.b], across=True, months=12, now=NOW)
    with CaptureQueriesContext(connection) as one:
        kpi_report(tenants=[known.a], across=True, months=12, now=NOW)
    assert len(two) == len(one) <= 5


def test_governance_leads_and_admins_read_platform_kpis_others_are_refused(company):
    for person in (company.grace, company.adam):
        answer = client_for(person).get("/api/v1/kpis/?months=3")
        assert answer.status_code == 200
        body = answer.json()
        assert len(body["overall"]) == 3 and body["environment"] == "production"
        assert {t["tenant"] for t in body["tenants"]} == {company.a.slug, company.b.slug}
    for person in (company.amir, company.alice, company.fiona):
        assert client_for(person).get("/api/v1/kpis/").status_code == 403
    assert client_for(company.grace).get("/api/v1/kpis/?months=99").status_code == 400


def test_a_units_kpi_api_is_its_own_and_another_unit_gets_a_404(company):
    url = f"/api/v1/tenants/{company.a.slug}/kpis/?environment=all"
    body = client_for(company.amir).get(url).json()
    assert body["environment"] == "all"
    assert [t["tenant"] for t in body["tenants"]] == [company.a.slug]
    assert client_for(company.bob).get(url).status_code == 404
    assert signed_in(company.bob).get(f"/t/{company.a.slug}/kpis/").status_code == 404


def test_the_kpi_pages_draw_monthly_charts(company):
    html = signed_in(company.amir).get(f"/t/{company.a.slug}/kpis/").content.decode()
    assert html.count('<svg class="chart"') == 5 and "Change failure rate" in html
    platform = signed_in(company.grace).get("/kpis/").content.decode()
    assert "Platform KPIs" in platform and "By unit" in platform and "Bravo Marketing" in platform
    assert signed_in(company.amir).get("/kpis/").status_code == 403
