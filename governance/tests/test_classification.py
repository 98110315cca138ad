"""The EU AI Act questionnaire: answers give a tier, the change is stored and audited."""

from __future__ import annotations

import pytest

from governance.classification import CLASSIFIER_VERSION, classify
from governance.models import AuditEvent
from governance.tests.builders import ANSWERS, make_version
from portal.core.api.errors import NOT_FOUND_BODY
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/tenants/acme-retail/models/credit-scorer/classification/"


@pytest.mark.parametrize(
    ("change", "tier"),
    [
        ({}, "high"),
        ({"annex_iii_area": "employment"}, "high"),
        ({"narrow_procedural_task": True, "profiles_people": False}, "minimal"),
        ({"annex_iii_area": "none", "interacts_with_people": True}, "limited"),
        ({"annex_iii_area": "none", "profiles_people": False}, "minimal"),
        ({"prohibited_practice": True}, "prohibited"),
    ],
)
def test_the_answers_give_the_eu_ai_act_tier(change, tier):
    assert classify({**ANSWERS["high"], **change}).tier == tier


def test_classifying_a_model_stores_answers_tier_version_and_person_and_audits_it(company):
    make_version(company.a)

    response = client_for(company.amir).post(URL, {"answers": ANSWERS["high"]}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["tier"] == "high"
    assert body["classifier_version"] == CLASSIFIER_VERSION
    assert body["classified_by_label"] == "amir"
    assert "credit scoring" in body["reasons"][0]
    detail = client_for(company.ava).get(URL).json()
    assert detail["tier"] == "high" and detail["current"]["answers"] == ANSWERS["high"]
    assert detail["questionnaire"]["questions"][0]["key"] == "prohibited_practice"
    with tenant_scope(company.a):
        event = AuditEvent.objects.get(action="model.risk_classified")
    assert event.before["tier"] == "" and event.after["tier"] == "high"


def test_a_governance_lead_may_classify_a_viewer_may_not(company):
    make_version(company.a)
    assert (
        client_for(company.ava)
        .post(URL, {"answers": ANSWERS["minimal"]}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(company.grace)
        .post(URL, {"answers": ANSWERS["minimal"]}, format="json")
        .status_code
        == 201
    )


def test_an_incomplete_questionnaire_is_a_400_naming_what_is_missing(company):
    make_version(company.a)
    response = client_for(company.amir).post(
        URL, {"answers": {"prohibited_practice": False, "annex_iii_area": "space"}}, format="json"
    )
    assert response.status_code == 400
    assert "annex_iii_area (one of: none, biometrics" in response.json()["detail"]
    assert "profiles_people (true or false)" in response.json()["detail"]


def test_another_tenant_gets_a_404(company):
    make_version(company.a)
    assert client_for(company.bob).get(URL).json() == NOT_FOUND_BODY
    assert (
        client_for(company.bob).post(URL, {"answers": ANSWERS["minimal"]}, format="json").json()
        == NOT_FOUND_BODY
    )
