"""Approvals: who may decide, how many must, and what an approval is bound to."""

from __future__ import annotations

import pytest

from governance.models import ApprovalRequest, AuditEvent
from governance.tests.builders import classify, decide, make_version, request
from portal.catalog.models import ModelVersion
from portal.core.api.errors import NOT_FOUND_BODY
from portal.deployments.models import Deployment
from portal.deployments.selectors import approval_in_force
from tenants.models import PlatformRole, TenantRole
from tenants.scoping import tenant_scope
from tests.builders import add_member, client_for, make_token, make_user

pytestmark = pytest.mark.django_db


def state_of(tenant, deployment_id: int) -> str:
    with tenant_scope(tenant):
        return Deployment.objects.get(pk=deployment_id).state


def test_a_high_risk_production_request_stays_pending_until_two_distinct_leads_approve(
    company, high_risk_version
):
    response = client_for(company.amir).post(
        "/api/v1/tenants/acme-retail/deployments/",
        {
            "model": "credit-scorer",
            "version": 1,
            "environment": "production",
            "instance_type": "cpu.large",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "pending_approval"
    assert body["decision"]["requirements"] == {"governance_lead": 2}
    approval_id = body["approval"]

    first = decide(company.grace, approval_id, comment="Card and metrics look right.")
    assert first.status_code == 200
    assert first.json()["state"] == "pending"
    assert state_of(company.a, body["id"]) == "pending_approval"

    second = decide(company.gus, approval_id)
    assert second.json()["state"] == "approved"
    assert [d["reviewer"] for d in second.json()["decisions"]] == ["grace", "gus"]
    assert state_of(company.a, body["id"]) == "approved"


def test_an_engineer_cannot_approve_their_own_request_even_as_a_governance_lead(
    company, high_risk_version
):
    lead_engineer = make_user("lena", platform_role=PlatformRole.GOVERNANCE_LEAD)
    add_member(company.a, lead_engineer, TenantRole.ENGINEER)
    deployment = request(company.a, high_risk_version, lead_engineer)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()

    response = decide(lead_engineer, approval.pk)

    assert response.status_code == 403
    assert "someone else must approve" in response.json()["detail"]


def test_an_engineer_without_a_governance_role_cannot_approve_either(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    response = decide(company.alice, approval.pk)
    assert response.status_code == 403
    assert "2 governance leads" in response.json()["detail"]


def test_one_approver_cannot_count_twice(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()

    assert decide(company.grace, approval.pk).status_code == 200
    again = decide(company.grace, approval.pk)

    assert again.status_code == 409
    assert "each person counts once" in again.json()["detail"]
    with tenant_scope(company.a):
        approval.refresh_from_db()
        assert approval.state == "pending"
        assert approval.decisions.count() == 1


def test_a_new_version_needs_a_new_approval(company, high_risk_version):
    first = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        first_approval = first.approvals.get()
    decide(company.grace, first_approval.pk)
    decide(company.gus, first_approval.pk)
    v2 = make_version(company.a, version=2)
    from governance.tests.builders import approved_card

    approved_card(company.a, v2)

    second = request(company.a, v2, company.amir)

    assert second.state == "pending_approval"
    with tenant_scope(company.a):
        second_approval = second.approvals.get()
        assert second_approval.pk != first_approval.pk
        assert second_approval.model_version == v2
        assert second_approval.artifact_digest == v2.artifact_digest
        assert approval_in_force(second) is None
        assert approval_in_force(first) == first_approval


def test_a_changed_artifact_needs_a_new_approval(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    decide(company.grace, approval.pk)
    with tenant_scope(company.a):
        ModelVersion.objects.filter(pk=high_risk_version.pk).update(artifact_digest="tampered")

    response = decide(company.gus, approval.pk)

    assert response.status_code == 409
    assert "artifact changed" in response.json()["detail"]
    with tenant_scope(company.a):
        approval.refresh_from_db()
        assert approval.state == "superseded"
    assert state_of(company.a, deployment.pk) == "cancelled"


def test_the_default_policys_reasons_appear_in_the_api_response(company):
    version = make_version(company.a, metrics={"accuracy": 0.6})
    classify(company.a, version, "high")

    response = client_for(company.amir).post(
        "/api/v1/tenants/acme-retail/deployments/",
        {
            "model": "credit-scorer",
            "version": 1,
            "environment": "production",
            "instance_type": "cpu.large",
        },
        format="json",
    )

    body = response.json()
    assert body["state"] == "rejected"
    reasons = " ".join(body["decision"]["reasons"])
    assert "model card is 20% complete" in reasons
    assert "No validation metric" in reasons and "0.75" in reasons
    assert "fairness_demographic_parity_difference is not logged" in reasons
    fired = {r["rule"] for r in body["decision"]["rules"] if r["fired"]}
    assert {"high-risk-needs-complete-card", "high-risk-to-production"} <= fired
    assert body["decision"]["policy"] == {"name": "default", "version": 1}


def test_a_pending_requests_reasons_are_in_the_approval(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval_id = deployment.approvals.get().pk
    body = client_for(company.grace).get(f"/api/v1/approvals/{approval_id}/").json()
    assert body["reasons"] == [
        "A high-risk model needs two governance leads, neither of them the requester, to approve "
        "a production deployment (EU AI Act, human oversight)."
    ]
    assert body["policy"]["name"] == "default"


def test_a_minimal_risk_model_goes_to_staging_without_review(company):
    version = make_version(company.a, name="basket-recommender")
    classify(company.a, version, "minimal")
    deployment = request(company.a, version, company.amir, environment="staging")
    assert deployment.state == "approved"
    with tenant_scope(company.a):
        assert not ApprovalRequest.objects.exists()


def test_a_low_risk_production_request_needs_an_owner_who_is_not_the_requester(company):
    version = make_version(company.a, name="basket-recommender")
    classify(company.a, version, "limited")
    deployment = request(company.a, version, company.alice)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    assert approval.requirements == {"tenant_owner": 1}
    assert decide(company.alice, approval.pk).status_code == 403
    assert decide(company.grace, approval.pk).status_code == 403  # not the role asked for
    second_owner = make_user("olga")
    add_member(company.a, second_owner, TenantRole.OWNER)
    assert decide(second_owner, approval.pk).json()["state"] == "approved"


def test_rejecting_or_requesting_changes_needs_a_comment_and_resubmitting_opens_a_new_request(
    company, high_risk_version
):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    assert decide(company.grace, approval.pk, "request_changes").status_code == 400
    changes = decide(company.grace, approval.pk, "request_changes", "Add the fairness analysis.")
    assert changes.json()["state"] == "changes_requested"

    resubmitted = client_for(company.amir).post(
        f"/api/v1/tenants/acme-retail/deployments/{deployment.pk}/resubmit/"
    )

    assert resubmitted.status_code == 200
    assert resubmitted.json()["approval"] != approval.pk
    with tenant_scope(company.a):
        approval.refresh_from_db()
        assert approval.state == "superseded"
    rejected = decide(company.gus, resubmitted.json()["approval"], "reject", "Not convinced.")
    assert rejected.json()["state"] == "rejected"
    assert state_of(company.a, deployment.pk) == "rejected"


def test_the_requester_withdraws_and_the_deployment_is_cancelled(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    assert (
        client_for(company.ava).post(f"/api/v1/approvals/{approval.pk}/withdraw/").status_code
        == 403
    )
    response = client_for(company.amir).post(f"/api/v1/approvals/{approval.pk}/withdraw/")
    assert response.json()["state"] == "withdrawn"
    assert state_of(company.a, deployment.pk) == "cancelled"


def test_the_queue_is_riskiest_and_oldest_first_for_governance_and_own_tenant_for_members(
    company, high_risk_version
):
    low = make_version(company.a, name="basket-recommender")
    classify(company.a, low, "limited")
    request(company.a, low, company.amir)  # older, lower risk
    request(company.a, high_risk_version, company.amir)
    b_version = make_version(company.b, name="churn")
    classify(company.b, b_version, "high")
    request(company.b, b_version, company.ben, environment="staging")

    queue = client_for(company.grace).get("/api/v1/approvals/?state=pending").json()["results"]
    assert [(a["tenant"], a["model"]) for a in queue] == [
        ("acme-retail", "credit-scorer"),
        ("bravo-marketing", "churn"),
        ("acme-retail", "basket-recommender"),
    ]
    own = client_for(company.amir).get("/api/v1/approvals/").json()["results"]
    assert {a["tenant"] for a in own} == {"acme-retail"}


def test_tenant_b_sees_none_of_a_approvals(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    _, b_token = make_token(company.b, ["read", "write"])

    assert client_for(company.bob).get("/api/v1/approvals/").json()["results"] == []
    assert client_for(token=b_token).get("/api/v1/approvals/").json()["results"] == []
    for client in (client_for(company.bob), client_for(token=b_token)):
        detail = client.get(f"/api/v1/approvals/{approval.pk}/")
        assert detail.status_code == 404 and detail.json() == NOT_FOUND_BODY
        assert (
            client.post(
                f"/api/v1/approvals/{approval.pk}/decisions/", {"verdict": "approve"}, format="json"
            ).json()
            == NOT_FOUND_BODY
        )
    missing = client_for(company.bob).get("/api/v1/approvals/999999/")
    assert missing.content == detail.content
    assert (
        client_for(company.bob)
        .get(f"/api/v1/tenants/acme-retail/deployments/{deployment.pk}/")
        .json()
        == NOT_FOUND_BODY
    )


def test_every_state_change_writes_exactly_one_audit_event(company, high_risk_version):
    def events(object_type: str, object_id: int) -> list[str]:
        with tenant_scope(company.a):
            return list(
                AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))
                .order_by("sequence")
                .values_list("action", flat=True)
            )

    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    assert events("deployment", deployment.pk) == [
        "deployment.requested",
        "deployment.pending_approval",
    ]
    assert events("approval", approval.pk) == ["approval.requested"]

    decide(company.grace, approval.pk)
    assert events("approval", approval.pk) == ["approval.requested", "approval.decided"]
    assert len(events("deployment", deployment.pk)) == 2

    decide(company.gus, approval.pk)
    assert events("approval", approval.pk) == [
        "approval.requested",
        "approval.decided",
        "approval.decided",
    ]
    assert events("deployment", deployment.pk)[-1] == "deployment.approved"
    assert len(events("deployment", deployment.pk)) == 3


def test_reviewers_are_emailed_and_the_requester_hears_the_verdict(
    company, high_risk_version, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment = request(company.a, high_risk_version, company.amir)
    asked = [m for m in mailoutbox if m.subject.startswith("Approval needed")]
    assert {r for m in asked for r in m.to} == {"grace@example.com", "gus@example.com"}
    assert "Approval needed: credit-scorer v1 to production" in asked[0].subject
    mailoutbox.clear()
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    with django_capture_on_commit_callbacks(execute=True):
        decide(company.grace, approval.pk, "request_changes", "Explain the fairness gap.")
    assert [m.to for m in mailoutbox] == [["amir@example.com"]]
    assert "Explain the fairness gap." in mailoutbox[0].body


def test_a_pipeline_request_cannot_be_approved_by_the_person_whose_token_made_it(
    company, high_risk_version
):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.services import token_create
    from tests.builders import TEST_ACTOR

    lead_owner = make_user("lars", platform_role=PlatformRole.GOVERNANCE_LEAD)
    add_member(company.a, lead_owner, TenantRole.OWNER)
    with tenant_scope(company.a):
        _, secret = token_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            name="ci",
            scopes=["read", "write"],
            expires_at=timezone.now() + timedelta(days=1),
            created_by=lead_owner,
        )
    response = client_for(token=secret).post(
        "/api/v1/tenants/acme-retail/deployments/",
        {
            "model": "credit-scorer",
            "version": 1,
            "environment": "production",
            "instance_type": "cpu.small",
        },
        format="json",
    )
    assert response.json()["requested_by_label"].startswith("mlp_")

    assert decide(lead_owner, response.json()["approval"]).status_code == 403
