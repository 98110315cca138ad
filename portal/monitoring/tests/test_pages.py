from __future__ import annotations

import pytest
from django.template import Context, Template

from portal.monitoring.models import DriftRun
from portal.monitoring.selectors import drift_status_by_deployment
from portal.monitoring.tests.builders import make_deployment
from tenants.scoping import tenant_scope
from tests.builders import signed_in

pytestmark = pytest.mark.django_db

COLUMNS = [
    {
        "name": "income",
        "kind": "numeric",
        "method": "wasserstein",
        "method_label": "Wasserstein distance (normed)",
        "statistic": 0.42,
        "statistic_error": 0.0,
        "threshold": 0.1,
        "drifted": True,
        "status": "drift",
        "reason": None,
        "missing_current": 3,
        "unseen_categories": 0,
        "unseen_examples": [],
        "current_count": 997,
    },
    {
        "name": "region",
        "kind": "categorical",
        "method": None,
        "method_label": None,
        "statistic": None,
        "statistic_error": 0.0,
        "threshold": None,
        "drifted": False,
        "status": "unknown",
        "reason": "the column is not in the current window",
        "missing_current": 1000,
        "unseen_categories": 0,
        "unseen_examples": [],
        "current_count": 0,
    },
]


def run(deployment, drift_status: str, share: float) -> DriftRun:
    with tenant_scope(deployment.tenant_id):
        return DriftRun.objects.create(
            tenant_id=deployment.tenant_id,
            deployment=deployment,
            status="succeeded",
            drift_status=drift_status,
            share_drifted=share,
            columns=COLUMNS,
            drifted_columns=["income"] if share else [],
            current_rows=1000,
        )


def test_the_drift_page_shows_the_column_table_and_an_inline_svg_chart(company):
    deployment = make_deployment(company.a)
    run(deployment, "ok", 0.0)
    run(deployment, "drift", 1.0)
    page = signed_in(company.ava).get(f"/t/{company.a.slug}/deployments/{deployment.pk}/drift/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and html.count("<circle") == 2 and "<script" not in html
    assert "Wasserstein distance (normed)" in html and "0.42" in html
    assert "the column is not in the current window" in html
    assert "Drift: drift" in html
    assert "Every run on the chart as a list" in html and "<li>" in html.split("chart-points")[1]


def test_a_running_drift_run_shows_its_progress_and_the_page_follows_it_in_place(company):
    deployment = make_deployment(company.a)
    url = f"/t/{company.a.slug}/deployments/{deployment.pk}/drift/"
    with tenant_scope(company.a):
        running = DriftRun.objects.create(
            tenant=company.a,
            deployment=deployment,
            status="running",
            progress=40,
            progress_note="column 2 of 5",
        )
    html = signed_in(company.ava).get(url).content.decode()
    assert '<progress id="drift-progress" value="40" max="100">' in html
    assert "40%" in html and "column 2 of 5" in html
    assert f'id="drift-report" hx-get="{url}" hx-trigger="every 3s"' in html
    assert "/static/portal/htmx.min.js" in html

    with tenant_scope(company.a):
        DriftRun.objects.filter(pk=running.pk).update(status="succeeded", progress=100)
    done = signed_in(company.ava).get(url).content.decode()
    assert "<progress" not in done and "hx-trigger" not in done


def test_another_tenant_gets_a_404_for_the_drift_page(company):
    deployment = make_deployment(company.a)
    page = signed_in(company.bob).get(f"/t/{company.a.slug}/deployments/{deployment.pk}/drift/")
    assert page.status_code == 404
    page = signed_in(company.bob).get(f"/t/{company.b.slug}/deployments/{deployment.pk}/drift/")
    assert page.status_code == 404


def test_drift_status_by_deployment_takes_the_latest_finished_run_in_one_query(
    company, django_assert_num_queries
):
    watched, quiet = make_deployment(company.a), make_deployment(company.a, name="churn")
    run(watched, "drift", 1.0)
    run(watched, "warning", 0.25)
    with tenant_scope(company.a):
        DriftRun.objects.create(tenant=company.a, deployment=watched, status="running")
        with django_assert_num_queries(1):
            statuses = drift_status_by_deployment([watched.pk, quiet.pk])
    assert statuses[watched.pk].status == "warning"
    assert statuses[watched.pk].drifted_columns == ("income",)
    assert statuses[quiet.pk].status == "unknown" and "No drift run" in statuses[quiet.pk].reason


def test_the_badge_include_names_the_status_and_the_drifted_columns(company):
    deployment = make_deployment(company.a)
    run(deployment, "drift", 1.0)
    with tenant_scope(company.a):
        statuses = drift_status_by_deployment([deployment.pk])
    html = Template(
        "{% load monitoring_tags %}"
        '{% include "monitoring/_drift_badge.html" with drift=statuses|drift_for:pk %}'
    ).render(Context({"statuses": statuses, "pk": deployment.pk}))
    assert 'class="badge bad"' in html and "Drift: drift" in html and "Drifted: income" in html
