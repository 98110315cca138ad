"""The ROI estimate: the seeds' worked example, measured inputs, saving inputs, who may."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from governance.models import AuditEvent
from governance.tests.builders import make_version
from portal.catalog.models import ModelVersion
from portal.insights.roi import RoiFigures, roi_estimate, roi_formula, roi_measurements
from portal.insights.tests.builders import deploy, incident, monitor
from tenants.scoping import tenant_scope
from tests.builders import client_for, signed_in

SEEDS = RoiFigures(
    team_size=Decimal(5),
    avg_salary=Decimal(90000),
    models_per_year=Decimal(6),
    weeks_to_production_before=Decimal(16),
    weeks_to_production_with_platform=Decimal(3),
    incidents_per_year=Decimal(4),
    avg_incident_cost=Decimal(75000),
    investment=Decimal(200000),
)


def test_the_seeds_worked_example_gives_900k_of_benefits_and_350_percent():
    estimate = roi_estimate(SEEDS)
    assert estimate.time_saved_per_model == 13
    assert estimate.cost_per_week_team.quantize(Decimal(1)) == Decimal(8654)
    assert estimate.deployment_savings == Decimal(675000)
    assert estimate.incident_savings == Decimal(225000)
    assert estimate.total_benefits == Decimal(900000)
    assert estimate.roi_percent == Decimal(350)
    assert all(isinstance(v, Decimal) for v in (estimate.total_benefits, estimate.roi_percent))


def test_the_formula_is_written_out_with_the_figures():
    lines = roi_formula(roi_estimate(SEEDS))
    assert lines[0] == "time_saved_per_model = 16 - 3 = 13 weeks"
    assert lines[-2] == "total_benefits = 675,000 + 225,000 = 900,000"
    assert lines[-1] == "roi = (900,000 - 200,000) / 200,000 x 100 = 350.0%"


def test_without_an_investment_the_roi_is_not_defined():
    estimate = roi_estimate(RoiFigures(**{**SEEDS.__dict__, "investment": Decimal(0)}))
    assert estimate.roi_percent is None


@pytest.mark.django_db
def test_measured_inputs_are_the_median_lead_models_live_and_drift_incidents(company):
    now = timezone.now()
    for name, weeks in (("churn", 1), ("fraud", 2), ("credit", 4)):
        version = make_version(company.a, name)
        with tenant_scope(company.a):
            ModelVersion.objects.filter(pk=version.pk).update(
                created_at=now - timedelta(weeks=weeks, days=1)
            )
        deploy(
            company.a,
            version,
            name=name,
            created_at=now - timedelta(days=2),
            live_from=now - timedelta(days=1),
        )
    staging = make_version(company.a, "staging-only")
    deploy(company.a, staging, name="staging-only", environment="staging")
    monitor(company.a, "churn")
    incident(company.a)
    incident(company.a, source="person")
    incident(company.a, opened_at=now - timedelta(days=400))
    with tenant_scope(company.a):
        found = roi_measurements()
    assert found.weeks_to_production_with_platform == Decimal("2.0")
    assert found.versions_measured == 3
    assert found.models_per_year == 3
    assert found.incidents_per_year == 1


@pytest.mark.django_db
def test_the_api_uses_entered_inputs_until_something_is_measured(company):
    body = client_for(company.amir).get(f"/api/v1/tenants/{company.a.slug}/roi/").json()
    assert body["measured"] == {
        "weeks_to_production_with_platform": False,
        "models_per_year": False,
        "incidents_per_year": False,
    }
    assert Decimal(body["total_benefits"]) == Decimal(900000)
    assert Decimal(body["roi_percent"]) == Decimal(350)
    assert body["formula"][-1].endswith("= 350.0%")


@pytest.mark.django_db
def test_an_owner_saves_inputs_and_the_change_is_audited(company):
    url = f"/api/v1/tenants/{company.a.slug}/roi/"
    answer = client_for(company.alice).put(
        url, {"team_size": 10, "avg_salary": "100000.00"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["inputs"]["team_size"] == "10" and body["inputs"]["avg_salary"] == "100000.00"
    with tenant_scope(company.a):
        event = AuditEvent.objects.get(action="roi_inputs.updated")
    assert event.after == {"team_size": 10, "avg_salary": "100000.00"}
    refused = client_for(company.alice).put(url, {"incident_reduction": "1.5"}, format="json")
    assert refused.status_code == 400


@pytest.mark.django_db
def test_a_salary_too_large_for_its_column_is_a_400_not_a_500(company):
    url = f"/api/v1/tenants/{company.a.slug}/roi/"
    answer = client_for(company.alice).put(url, {"avg_salary": "713739230396.1"}, format="json")
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["avg_salary"]


@pytest.mark.django_db
def test_an_amount_sent_as_a_json_number_is_a_400_that_says_to_write_it_as_a_string(company):
    url = f"/api/v1/tenants/{company.a.slug}/roi/"
    answer = client_for(company.alice).put(
        url, {"avg_salary": 0, "incidents_per_year": 0.1, "team_size": 3}, format="json"
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert sorted(errors) == ["avg_salary", "incidents_per_year"]
    assert '"12.50"' in errors["avg_salary"][0]


@pytest.mark.django_db
def test_engineers_cannot_change_inputs_and_another_unit_gets_a_404(company):
    url = f"/api/v1/tenants/{company.a.slug}/roi/"
    assert client_for(company.amir).put(url, {"team_size": 1}, format="json").status_code == 403
    assert client_for(company.bob).get(url).status_code == 404
    assert signed_in(company.bob).get(f"/t/{company.a.slug}/roi/").status_code == 404


@pytest.mark.django_db
def test_the_page_shows_the_formula_and_only_owners_get_the_form(company):
    owner = signed_in(company.alice).get(f"/t/{company.a.slug}/roi/").content.decode()
    assert "total_benefits = 675,000 + 225,000 = 900,000" in owner
    assert "Benefits <strong>900,000 USD</strong>" in owner
    assert "350.0%" in owner and "Save inputs" in owner
    viewer = signed_in(company.ava).get(f"/t/{company.a.slug}/roi/").content.decode()
    assert "Formula" in viewer and "Save inputs" not in viewer
    saved = signed_in(company.alice).post(
        f"/t/{company.a.slug}/roi/",
        {
            "team_size": 5,
            "avg_salary": "90000",
            "weeks_to_production_before": "16",
            "avg_incident_cost": "75000",
            "incident_reduction": "0.5",
            "investment": "200000",
            "models_per_year": "6",
            "weeks_to_production_with_platform": "3",
            "incidents_per_year": "4",
        },
        follow=True,
    )
    assert "ROI inputs saved." in saved.content.decode()
    assert "total_benefits = 675,000 + 150,000 = 825,000" in saved.content.decode()
    wrong = signed_in(company.alice).post(f"/t/{company.a.slug}/roi/", {"team_size": "-1"})
    assert wrong.status_code == 400
