"""Tiers the governed cannot lower: a governance lead's classification is authoritative, the unit
raises its tier at once, and anything lower (or different from a lead's answers) waits for a lead
as a tier proposal."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from governance.models import AuditEvent, TierProposal
from governance.tests.builders import ANSWERS, approved_card, make_version, request
from portal.catalog.models import RegisteredModel
from portal.core.api.errors import NOT_FOUND_BODY
from tenants import services as tenant_services
from tenants import webhooks
from tenants.notifications import webhook_endpoint_create
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for, make_token, signed_in

pytestmark = pytest.mark.django_db
API = "/api/v1/tenants/acme-retail"
URL = f"{API}/models/credit-scorer/classification/"
PAGE = "/t/acme-retail/models/credit-scorer/classification/"
# High risk for another reason than ANSWERS["high"] (hiring instead of credit scoring).
HIGH_FOR_HIRING = {**ANSWERS["high"], "annex_iii_area": "employment"}
# Minimal risk for another reason than ANSWERS["minimal"]: a narrow procedural task.
MINIMAL_PROCEDURAL = {
    **ANSWERS["high"],
    "narrow_procedural_task": True,
    "profiles_people": False,
}


def answer(user, answers, *, token: str | None = None):
    client = client_for(token=token) if token else client_for(user)
    return client.post(URL, {"answers": answers}, format="json")


def tier_of(company) -> str:
    with tenant_scope(company.a):
        return RegisteredModel.objects.get(name="credit-scorer").risk_tier


def actions(company, prefix: str) -> list[str]:
    with tenant_scope(company.a):
        return list(
            AuditEvent.objects.filter(action__startswith=prefix)
            .order_by("sequence")
            .values_list("action", flat=True)
        )


def request_production(company, version):
    """Amir asks to deploy ``version`` to production, as the model's tier in force stands."""
    with tenant_scope(company.a):
        version.model.refresh_from_db()
    return request(company.a, version, company.amir)


def accept(user, proposal_id: int, *, token: str | None = None):
    client = client_for(token=token) if token else client_for(user)
    return client.post(f"{API}/tier-proposals/{proposal_id}/accept/")


def reject(user, proposal_id: int, comment: str = ""):
    return client_for(user).post(
        f"{API}/tier-proposals/{proposal_id}/reject/", {"comment": comment}, format="json"
    )


@pytest.fixture
def governed(company):
    """A credit model with an approved card that a governance lead (Grace) classified high risk."""
    version = make_version(company.a)
    assert answer(company.grace, ANSWERS["high"]).status_code == 201
    approved_card(company.a, version)
    return version


def test_the_engineers_downgrade_becomes_a_proposal_and_production_still_needs_two_leads_until_a_lead_accepts_it_and_the_route_changes(
    company, governed
):
    downgrade = answer(company.amir, ANSWERS["minimal"])

    assert downgrade.status_code == 202, downgrade.json()
    body = downgrade.json()
    assert body["state"] == "open" and body["tier"] == "minimal" and body["tier_in_force"] == "high"
    assert "a governance lead" in body["message"] and "nothing changes" in body["message"]
    assert tier_of(company) == "high"
    before = request_production(company, governed)
    with tenant_scope(company.a):
        assert before.approvals.get().requirements == {"governance_lead": 2}

    accepted = accept(company.grace, body["id"])

    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["state"] == "accepted"
    assert tier_of(company) == "minimal"
    after = request_production(company, governed)
    with tenant_scope(company.a):
        assert after.approvals.get().requirements == {"tenant_owner": 1}
    in_force = client_for(company.ava).get(URL).json()
    assert in_force["tier"] == "minimal"
    assert in_force["set_by"] == {"authority": "governance", "person": "grace"}


def test_a_governance_leads_answers_always_take_effect(company):
    make_version(company.a)
    assert answer(company.amir, ANSWERS["high"]).status_code == 201

    lowered = answer(company.grace, ANSWERS["minimal"])

    assert lowered.status_code == 201
    assert "takes effect" in lowered.json()["message"]
    assert lowered.json()["set_by"] == {"authority": "governance", "person": "grace"}
    assert tier_of(company) == "minimal"


def test_the_unit_raises_its_tier_at_once_even_over_a_leads_classification(company, governed):
    raised = answer(company.amir, ANSWERS["prohibited"])

    assert raised.status_code == 201
    assert raised.json()["set_by"] == {"authority": "unit", "person": "amir"}
    assert tier_of(company) == "prohibited"


def test_the_unit_restates_its_own_tier_with_other_answers_at_once(company):
    make_version(company.a)
    assert answer(company.amir, ANSWERS["minimal"]).status_code == 201

    assert answer(company.alice, MINIMAL_PROCEDURAL).status_code == 201

    with tenant_scope(company.a):
        assert not TierProposal.objects.exists()


def test_other_answers_over_a_leads_classification_wait_for_a_lead_even_for_the_same_tier(
    company, governed
):
    same_tier = answer(company.alice, HIGH_FOR_HIRING)

    assert same_tier.status_code == 202
    assert same_tier.json()["diff"] == [
        {
            "question": "annex_iii_area",
            "text": "Is the model used in one of these areas?",
            "in_force": "essential_services",
            "proposed": "employment",
        }
    ]
    restated = answer(company.alice, ANSWERS["high"])  # the lead's own answers
    assert restated.status_code == 200 and "nothing changed" in restated.json()["message"]
    assert restated.json()["set_by"] == {"authority": "governance", "person": "grace"}
    with tenant_scope(company.a):
        assert TierProposal.objects.get().state == "superseded"


def test_a_newer_proposal_from_the_unit_supersedes_the_open_one(company, governed):
    first = answer(company.amir, ANSWERS["minimal"]).json()
    second = answer(company.alice, ANSWERS["limited"]).json()

    open_ones = client_for(company.grace).get(f"{API}/tier-proposals/").json()["results"]

    assert [p["id"] for p in open_ones] == [second["id"]]
    assert (
        client_for(company.amir).get(f"{API}/tier-proposals/{first['id']}/").json()["state"]
        == "superseded"
    )
    assert actions(company, "proposal.") == [
        "proposal.opened",
        "proposal.superseded",
        "proposal.opened",
    ]


def test_a_classification_that_takes_effect_supersedes_the_open_proposal(company, governed):
    proposal = answer(company.amir, ANSWERS["minimal"]).json()

    assert answer(company.gus, HIGH_FOR_HIRING).status_code == 201

    assert client_for(company.amir).get(URL).json()["open_proposal"] is None
    assert accept(company.grace, proposal["id"]).status_code == 409
    assert tier_of(company) == "high"


def test_a_rejection_needs_a_comment_and_keeps_the_tier(company, governed):
    proposal = answer(company.amir, ANSWERS["minimal"]).json()

    assert reject(company.grace, proposal["id"]).status_code == 400
    rejected = reject(company.grace, proposal["id"], "It still scores credit: Annex III.")

    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["comment"] == "It still scores credit: Annex III."
    assert rejected.json()["decided_by_label"] == "grace"
    assert tier_of(company) == "high"
    assert accept(company.gus, proposal["id"]).status_code == 409
    assert actions(company, "proposal.") == ["proposal.opened", "proposal.rejected"]


def test_accepting_records_the_lead_as_who_set_the_tier_and_audits_both_changes(company, governed):
    proposal = answer(company.amir, ANSWERS["limited"]).json()

    accept(company.gus, proposal["id"])

    detail = client_for(company.amir).get(URL).json()
    assert detail["tier"] == "limited"
    assert detail["current"]["set_by"] == {"authority": "governance", "person": "gus"}
    assert actions(company, "proposal.") == ["proposal.opened", "proposal.accepted"]
    assert actions(company, "model.risk_classified")[-1] == "model.risk_classified"
    with tenant_scope(company.a):
        event = AuditEvent.objects.filter(action="model.risk_classified").latest("sequence")
    assert (event.before["tier"], event.after["tier"]) == ("high", "limited")


def test_tokens_follow_the_units_rules_and_only_a_signed_in_lead_decides_a_proposal(
    company, governed
):
    with tenant_scope(company.a):
        _, leads_secret = tenant_services.token_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            name="grace's pipeline",
            scopes=["read", "write"],
            expires_at=timezone.now() + timezone.timedelta(days=1),
            created_by=company.grace,
        )
    _, ci_secret = make_token(company.a, ["read", "write"])

    downgrade = answer(None, ANSWERS["minimal"], token=leads_secret)
    assert downgrade.status_code == 202
    assert answer(None, ANSWERS["prohibited"], token=ci_secret).status_code == 201

    refused = accept(None, downgrade.json()["id"], token=leads_secret)
    assert refused.status_code == 403
    assert "Tokens never confirm a tier" in refused.json()["detail"]
    assert accept(company.alice, downgrade.json()["id"]).status_code == 403
    assert accept(company.adam, downgrade.json()["id"]).status_code == 403  # admins do not decide


def test_a_proposal_tells_the_governance_leads_and_a_decision_tells_the_owners_and_the_proposer(
    company,
    governed,
    settings,
    monkeypatch,
    eager_celery,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the example host is not resolved
    received: list[dict] = []
    monkeypatch.setattr(
        webhooks,
        "_post",
        lambda url, *, body, headers: (
            received.append(json.loads(body)) or webhooks.Answer(ok=True, status_code=200)
        ),
    )
    with tenant_scope(company.a):
        webhook_endpoint_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            url="https://hooks.acme.example/governance",
            events=["proposal.opened", "proposal.rejected"],
            created_by=None,
        )
    with django_capture_on_commit_callbacks(execute=True):
        proposal = answer(company.amir, ANSWERS["minimal"]).json()
    assert {r for m in mailoutbox for r in m.to} == {"grace@example.com", "gus@example.com"}
    assert "credit-scorer" in mailoutbox[0].subject and "minimal" in mailoutbox[0].body
    assert "Access to essential services" in mailoutbox[0].body  # the answer it changes
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        reject(company.grace, proposal["id"], "It still scores credit.")

    assert {r for m in mailoutbox for r in m.to} == {"alice@example.com", "amir@example.com"}
    assert "It still scores credit." in mailoutbox[0].body
    assert [body["event"] for body in received] == ["proposal.opened", "proposal.rejected"]
    assert (received[0]["data"]["tier_in_force"], received[0]["data"]["tier"]) == (
        "high",
        "minimal",
    )


def test_the_tenant_lists_its_open_proposals_in_a_constant_number_of_queries(
    company, governed, django_assert_max_num_queries
):
    for name in ("fraud-scorer", "cv-screener", "churn"):
        make_version(company.a, name)
        client_for(company.grace).post(
            f"{API}/models/{name}/classification/", {"answers": ANSWERS["high"]}, format="json"
        )
        client_for(company.amir).post(
            f"{API}/models/{name}/classification/", {"answers": ANSWERS["minimal"]}, format="json"
        )
    lead = client_for(company.grace)

    with django_assert_max_num_queries(6):
        listed = lead.get(f"{API}/tier-proposals/").json()

    assert {p["model"] for p in listed["results"]} == {"fraud-scorer", "cv-screener", "churn"}
    mine = lead.get(f"{API}/models/churn/tier-proposals/").json()["results"]
    assert [(p["model"], p["tier"]) for p in mine] == [("churn", "minimal")]


def test_another_tenant_gets_a_404_for_the_proposals(company, governed):
    proposal = answer(company.amir, ANSWERS["minimal"]).json()
    bob = client_for(company.bob)
    for url in (
        f"{API}/tier-proposals/",
        f"{API}/tier-proposals/{proposal['id']}/",
        f"{API}/models/credit-scorer/tier-proposals/",
    ):
        assert bob.get(url).json() == NOT_FOUND_BODY
    assert bob.post(f"{API}/tier-proposals/{proposal['id']}/accept/").json() == NOT_FOUND_BODY
    assert tier_of(company) == "high"


def test_the_page_shows_who_set_the_tier_and_the_open_proposal_with_buttons_for_leads(
    company, governed
):
    signed_in(company.amir).post(
        PAGE,
        {
            "prohibited_practice": "no",
            "annex_iii_area": "none",
            "narrow_procedural_task": "no",
            "profiles_people": "no",
            "interacts_with_people": "no",
            "generates_content": "no",
        },
    )

    engineer = signed_in(company.amir).get(PAGE).content.decode()
    lead = signed_in(company.grace).get(PAGE).content.decode()

    assert "set by governance (grace)" in engineer
    assert "Proposed: Minimal risk" in engineer and "Waiting for a governance lead" in engineer
    assert "Access to essential services" in lead and "None of these" in lead
    assert "Accept" not in engineer
    assert "Accept" in lead and "Reject" in lead
    with tenant_scope(company.a):
        proposal = TierProposal.objects.get()
    decided = signed_in(company.grace).post(
        f"/t/acme-retail/models/credit-scorer/tier-proposals/{proposal.pk}/decision/",
        {"verdict": "accept"},
        follow=True,
    )
    assert "The proposal is accepted: credit-scorer is classified minimal risk." in (
        decided.content.decode()
    )
    assert tier_of(company) == "minimal"
