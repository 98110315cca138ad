"""Governance pages as people see them: the queue, a request, policies, classification,
model cards, incidents and the audit trail."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import ApprovalRequest, Incident, PolicyVersion
from governance.services.cards import TEXT_FIELDS
from governance.services.policies import POLICY_DIR, policy_in_force
from governance.tests.builders import classify, make_version, request
from portal.catalog.models import RegisteredModel
from portal.deployments.models import Deployment
from tenants.models import TenantRole
from tenants.scoping import tenant_scope
from tests.builders import add_member, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(company, high_risk_version) -> ApprovalRequest:
    """Amir of Acme Retail asks to put a high-risk credit model in production."""
    deployment = request(company.a, high_risk_version, company.amir, environment="production")
    with tenant_scope(company.a):
        return deployment.approvals.get()


def approval_url(approval: ApprovalRequest) -> str:
    return f"/governance/approvals/{approval.pk}/"


def test_the_queue_shows_a_pending_high_risk_request_to_a_lead_and_not_to_another_units_owner(
    company, pending
):
    lead = signed_in(company.grace).get("/governance/approvals/")
    html = lead.content.decode()
    assert lead.status_code == 200
    assert "credit-scorer v1" in html and "2 governance leads" in html and "Acme Retail" in html
    assert approval_url(pending) in html

    other_owner = signed_in(company.bob).get("/governance/approvals/").content.decode()
    assert "credit-scorer" not in other_owner and "No approval requests match." in other_owner


def test_the_queue_hides_decided_requests_unless_asked_for_them(company, pending):
    for lead in (company.grace, company.gus):
        signed_in(lead).post(approval_url(pending), {"verdict": "approve"})
    grace = signed_in(company.grace)
    assert "credit-scorer" not in grace.get("/governance/approvals/").content.decode()
    every_state = grace.get("/governance/approvals/", {"state": ""}).content.decode()
    assert "credit-scorer v1" in every_state and "Approved" in every_state


def test_the_queue_reads_the_same_number_of_queries_however_many_requests_wait(company):
    def staging_request(name: str) -> None:
        version = make_version(company.a, name)
        classify(company.a, version, "high")
        request(company.a, version, company.amir, environment="staging")

    grace = signed_in(company.grace)
    staging_request("model-0")
    with CaptureQueriesContext(connection) as one:
        assert "model-0 v1" in grace.get("/governance/approvals/").content.decode()
    for index in range(1, 4):
        staging_request(f"model-{index}")
    with CaptureQueriesContext(connection) as four:
        assert "model-3 v1" in grace.get("/governance/approvals/").content.decode()
    assert len(four) == len(one)


def test_another_units_approval_page_is_not_found(company, pending):
    assert signed_in(company.bob).get(approval_url(pending)).status_code == 404
    assert (
        signed_in(company.bob).post(approval_url(pending), {"verdict": "approve"}).status_code
        == 404
    )


def test_the_approval_page_shows_the_request_its_reasons_the_cost_and_the_card(company, pending):
    html = signed_in(company.grace).get(approval_url(pending)).content.decode()
    for text in (
        "credit-scorer-v1-digest",
        "Production",
        "cpu.small",
        "two governance leads",
        "default v1",
        "USD per hour, about",
        "drift monitoring included",
        "100%",
        f"/t/{company.a.slug}/models/credit-scorer/versions/1/card/",
        'name="verdict" value="approve"',
    ):
        assert text in html, text


def test_the_requester_sees_no_decision_form_and_cannot_decide_through_the_page(company, pending):
    amir = signed_in(company.amir)
    html = amir.get(approval_url(pending)).content.decode()
    assert 'name="verdict"' not in html
    assert "You requested this deployment" in html and "Withdraw the request" in html

    refused = amir.post(approval_url(pending), {"verdict": "approve"})
    assert refused.status_code == 403
    assert "someone else must approve" in refused.content.decode()
    with tenant_scope(company.a):
        assert not pending.decisions.exists()


def test_two_governance_leads_approving_through_the_page_approve_the_request(company, pending):
    first = signed_in(company.grace).post(
        approval_url(pending), {"verdict": "approve", "comment": "Card and metrics look right."}
    )
    assert first.status_code == 302
    second = signed_in(company.gus).post(approval_url(pending), {"verdict": "approve"}, follow=True)

    html = second.content.decode()
    assert "The request is approved" in html and "Card and metrics look right." in html
    assert 'name="verdict"' not in html
    with tenant_scope(company.a):
        pending.refresh_from_db()
        assert pending.state == "approved"
        assert Deployment.objects.get(pk=pending.deployment_id).state == "approved"


def test_rejecting_without_a_comment_asks_for_one_and_records_nothing(company, pending):
    answer = signed_in(company.grace).post(approval_url(pending), {"verdict": "reject"})
    assert answer.status_code == 400
    assert "Say why" in answer.content.decode()
    with tenant_scope(company.a):
        assert not pending.decisions.exists()


def test_a_second_verdict_by_the_same_lead_is_a_message_on_the_page(company, pending):
    grace = signed_in(company.grace)
    grace.post(approval_url(pending), {"verdict": "approve"})
    again = grace.post(approval_url(pending), {"verdict": "approve"})
    assert again.status_code == 409
    assert "each person counts once" in again.content.decode()


def test_the_requester_withdraws_the_request_on_its_page(company, pending):
    answer = signed_in(company.amir).post(
        approval_url(pending), {"action": "withdraw"}, follow=True
    )
    assert "withdrawn" in answer.content.decode()
    with tenant_scope(company.a):
        pending.refresh_from_db()
        assert pending.state == "withdrawn"


def test_a_broken_policy_published_on_the_page_shows_the_line_and_changes_nothing(company):
    grace = signed_in(company.grace)
    assert "default" in grace.get("/governance/policies/").content.decode()
    in_force = policy_in_force(company.a)
    document = (POLICY_DIR / "default.yaml").read_text()
    broken = document.replace('when: tier == "prohibited"', 'when: tier === "prohibited" &&')

    answer = grace.post(
        "/governance/policies/default/", {"document": broken, "note": "a typo slipped in"}
    )

    html = answer.content.decode()
    assert answer.status_code == 400
    assert "Line " in html and "not a valid CEL expression" in html
    assert "tier === &quot;prohibited&quot; &amp;&amp;" in html  # the text is kept for fixing
    assert policy_in_force(company.a) == in_force
    assert PolicyVersion.objects.filter(name="default").count() == 1


def test_a_lead_publishes_a_new_policy_version_and_sees_the_diff(company):
    grace = signed_in(company.grace)
    grace.get("/governance/policies/")
    document = (POLICY_DIR / "default.yaml").read_text()
    changed = document.replace("validation_threshold: 0.75", "validation_threshold: 0.8")

    answer = grace.post(
        "/governance/policies/default/", {"document": changed, "note": "stricter"}, follow=True
    )

    html = answer.content.decode()
    assert "Version 2 of &#x27;default&#x27; is now in force." in html
    assert "-  validation_threshold: 0.75" in html and "+  validation_threshold: 0.8" in html
    assert signed_in(company.amir).post("/governance/policies/default/", {}).status_code == 403


def test_the_policy_page_tries_a_version_on_a_units_model(company, high_risk_version):
    signed_in(company.grace).get("/governance/policies/")
    html = (
        signed_in(company.amir)
        .get(
            "/governance/policies/default/",
            {
                "try-tenant": company.a.slug,
                "try-model": "credit-scorer",
                "try-version": 1,
                "try-environment": "production",
            },
        )
        .content.decode()
    )
    assert "needs approval" in html and "high-risk-to-production" in html
    assert "fired" in html and "not fired" in html


def test_the_classification_form_sets_the_tier(company):
    version = make_version(company.a, "cv-screener")
    url = f"/t/{company.a.slug}/models/cv-screener/classification/"
    amir = signed_in(company.amir)
    assert "Not classified yet" in amir.get(url).content.decode()

    answer = amir.post(
        url,
        {
            "prohibited_practice": "no",
            "annex_iii_area": "employment",
            "narrow_procedural_task": "no",
            "profiles_people": "yes",
            "interacts_with_people": "no",
            "generates_content": "no",
        },
        follow=True,
    )

    html = answer.content.decode()
    assert "cv-screener is classified high risk." in html
    assert "Employment and hiring" in html  # the reason, and the history
    with tenant_scope(company.a):
        assert RegisteredModel.objects.get(pk=version.model_id).risk_tier == "high"
    assert signed_in(company.ava).post(url, {}).status_code == 403


def test_the_model_card_page_saves_the_card_and_sends_it_for_review(company):
    classify(company.a, make_version(company.a), "high")
    url = f"/t/{company.a.slug}/models/credit-scorer/versions/1/card/"
    amir = signed_in(company.amir)
    fields = {
        name: f"The {name} of the model."
        for name in (
            "purpose",
            "intended_uses",
            "factors",
            "risk_explanation",
            "training_data",
            "limitations",
            "ethical_considerations",
            "owner",
        )
    }
    saved = amir.post(url, {"action": "save", **fields}, follow=True).content.decode()
    assert "Model card saved." in saved and "Completeness: 100%" in saved

    submitted = amir.post(url, {"action": "submit"}, follow=True).content.decode()
    assert "sent to governance for review" in submitted
    approved = signed_in(company.grace).post(url, {"action": "approve"}, follow=True)
    assert "The card is approved." in approved.content.decode()
    assert amir.post(url, {"action": "approve"}).status_code == 403


def test_the_card_page_disables_approval_for_the_lead_who_edited_the_card_and_says_why(company):
    classify(company.a, make_version(company.a), "high")
    add_member(company.a, company.grace, TenantRole.ENGINEER)
    url = f"/t/{company.a.slug}/models/credit-scorer/versions/1/card/"
    grace = signed_in(company.grace)
    fields = {name: f"The {name} of the model." for name in TEXT_FIELDS}
    grace.post(url, {"action": "save", **fields})
    signed_in(company.amir).post(url, {"action": "submit"})

    page = grace.get(url).content.decode()
    refused = grace.post(url, {"action": "approve"})

    assert "You edited this card last; someone else must approve it." in page
    assert re.search(r'<button[^>]*value="approve"[^>]*disabled', page)
    assert refused.status_code == 403
    assert "someone else must approve it" in refused.content.decode()
    other = signed_in(company.gus).get(url).content.decode()
    assert "someone else must approve it" not in other
    assert re.search(r'<button[^>]*value="approve">', other)


def test_the_incident_form_opens_an_incident_and_resolving_it_records_the_time(company):
    amir = signed_in(company.amir)
    opened = amir.post(
        f"/t/{company.a.slug}/incidents/",
        {"title": "Scores drift upward", "severity": "sev2", "description": "Since Monday."},
        follow=True,
    )
    assert "Scores drift upward" in opened.content.decode()
    with tenant_scope(company.a):
        incident = Incident.objects.get()
    detail = f"/t/{company.a.slug}/incidents/{incident.pk}/"

    refused = amir.post(detail, {"action": "change", "status": "resolved", "severity": "sev2"})
    assert refused.status_code == 400 and "Say how the incident was resolved" in (
        refused.content.decode()
    )
    amir.post(detail, {"action": "note", "text": "Rolled back to v3."})
    resolved = amir.post(
        detail,
        {
            "action": "change",
            "status": "resolved",
            "severity": "sev2",
            "resolution": "Rolled back.",
        },
        follow=True,
    ).content.decode()

    assert "Rolled back to v3." in resolved
    assert re.search(r"Time to resolve</dt><dd>\d+ s \(resolved ", resolved)
    with tenant_scope(company.a):
        incident.refresh_from_db()
        assert incident.status == "resolved" and incident.time_to_resolve is not None
    listing = amir.get(f"/t/{company.a.slug}/incidents/", {"status": "resolved"}).content.decode()
    assert "Scores drift upward" in listing
    assert signed_in(company.ava).post(detail, {"action": "note", "text": "x"}).status_code == 403
    assert signed_in(company.bob).get(detail).status_code == 404


def test_the_audit_page_is_forbidden_to_an_engineer(company):
    assert signed_in(company.amir).get("/governance/audit/").status_code == 403
    assert signed_in(company.amir).post("/governance/audit/verify/").status_code == 403


def test_a_lead_filters_the_audit_trail_and_verifies_it_now(company, pending):
    grace = signed_in(company.grace)
    html = grace.get("/governance/audit/", {"action": "approval."}).content.decode()
    assert "approval.requested" in html and "deployment.requested" not in html
    assert "has not been verified yet" in html

    verified = grace.post("/governance/audit/verify/", follow=True).content.decode()
    assert "The audit trail is intact" in verified and "intact" in verified


def test_the_navigation_shows_governance_links_by_role(company):
    lead = signed_in(company.grace).get("/").content.decode().split("<main")[0]
    assert "Approvals" in lead and "Policies" in lead and "Audit" in lead
    engineer = (
        signed_in(company.amir).get(f"/t/{company.a.slug}/").content.decode().split("<main")[0]
    )
    assert "Approvals" in engineer and "Incidents" in engineer
    assert "Policies" not in engineer and "Audit" not in engineer


def test_a_lead_searches_the_queue_by_model_and_narrows_it_by_risk_tier(company, pending):
    chatbot = make_version(company.a, "support-chatbot")
    classify(company.a, chatbot, "limited")
    request(company.a, chatbot, company.amir, environment="production")
    grace = signed_in(company.grace)

    found = grace.get("/governance/approvals/", {"q": "chatbot"}).content.decode()
    assert "support-chatbot v1" in found and "credit-scorer v1" not in found
    high = grace.get("/governance/approvals/", {"risk_tier": "high"}).content.decode()
    assert "credit-scorer v1" in high and "support-chatbot v1" not in high
    assert 'role="search"' in high and 'href="/governance/approvals/">Clear</a>' in high


def test_incidents_are_searched_by_title_and_narrowed_by_severity(company):
    amir = signed_in(company.amir)
    listing = f"/t/{company.a.slug}/incidents/"
    for title, severity in (("Scores drift upward", "sev2"), ("Gateway timeouts", "sev1")):
        amir.post(listing, {"title": title, "severity": severity})

    found = amir.get(listing, {"q": "drift"}).content.decode()
    assert "Scores drift upward" in found and "Gateway timeouts" not in found
    worst = amir.get(listing, {"severity": "sev1"}).content.decode()
    assert "Gateway timeouts" in worst and "Scores drift upward" not in worst


def test_a_field_the_lead_got_wrong_is_marked_invalid_and_described_by_its_message(company):
    refused = signed_in(company.grace).get("/governance/audit/", {"since": "yesterday"})
    html = refused.content.decode()
    field = re.search(r'<input[^>]*name="since"[^>]*>', html)
    assert field is not None
    assert 'aria-invalid="true"' in field[0] and 'aria-describedby="id_since_error"' in field[0]
    assert re.search(r'<p class="error" id="id_since_error" role="alert">Enter a valid', html)
