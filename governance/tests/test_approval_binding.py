"""What an approval is bound to, and the inputs that must not get past the policy engine."""

from __future__ import annotations

import pytest

from governance.models import ApprovalRequest
from governance.services.policies import policy_load_from_repo
from governance.tests.builders import (
    ANSWERS,
    DEFAULT,
    classify,
    decide,
    make_version,
    publish,
    request,
)
from portal.deployments.models import Deployment
from tenants.models import TenantRole
from tenants.scoping import tenant_scope
from tests.builders import add_member, client_for, make_token, make_user

pytestmark = pytest.mark.django_db


def approval_of(company, deployment) -> ApprovalRequest:
    with tenant_scope(company.a):
        return deployment.approvals.get()


def test_a_new_risk_tier_voids_open_approvals_and_prohibited_cancels_approved_deployments(
    company,
):
    version = make_version(company.a, "basket")
    classify(company.a, version, "limited")
    pending = request(company.a, version, company.amir)  # production: one owner
    staging = request(company.a, version, company.amir, environment="staging")
    assert staging.state == "approved"

    classify(company.a, version, "prohibited", user=company.amir)

    assert decide(company.alice, approval_of(company, pending).pk).status_code == 409
    with tenant_scope(company.a):
        assert approval_of(company, pending).state == "superseded"
        assert Deployment.objects.get(pk=pending.pk).state == "cancelled"
        assert Deployment.objects.get(pk=staging.pk).state == "cancelled"


def test_an_approval_decided_after_a_new_policy_version_is_superseded(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    approval = approval_of(company, deployment)
    publish(
        company.grace, DEFAULT.replace("validation_threshold: 0.75", "validation_threshold: 0.8")
    )

    response = decide(company.gus, approval.pk)

    assert response.status_code == 409
    assert "a new version of the policy is in force" in response.json()["detail"]
    with tenant_scope(company.a):
        approval.refresh_from_db()
        assert approval.state == "superseded"


def test_someone_who_may_not_decide_cannot_void_an_approval_either(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    approval = approval_of(company, deployment)
    publish(
        company.grace, DEFAULT.replace("validation_threshold: 0.75", "validation_threshold: 0.8")
    )

    assert decide(company.ava, approval.pk).status_code == 403
    with tenant_scope(company.a):
        approval.refresh_from_db()
        assert approval.state == "pending"


def test_resubmitting_keeps_the_original_requester_who_still_cannot_approve(company):
    version = make_version(company.a, "basket")
    classify(company.a, version, "limited")
    deployment = request(company.a, version, company.alice)  # needs one owner, not alice
    first = approval_of(company, deployment)
    other_owner = make_user("olga")
    add_member(company.a, other_owner, TenantRole.OWNER)
    decide(other_owner, first.pk, "request_changes", "Say who watches it.")

    client_for(company.amir).post(
        f"/api/v1/tenants/acme-retail/deployments/{deployment.pk}/resubmit/"
    )

    with tenant_scope(company.a):
        second = deployment.approvals.exclude(pk=first.pk).get()
    assert second.requested_by == company.alice
    assert decide(company.alice, second.pk).status_code == 403


def test_a_rule_giving_something_other_than_true_or_false_fails_closed(company):
    policy_load_from_repo()
    sneaky = DEFAULT.replace('when: tier == "prohibited"', "when: tags.blocked")
    assert publish(company.grace, sneaky).status_code == 201
    version = make_version(company.a, "basket")
    classify(company.a, version, "minimal")
    with tenant_scope(company.a):
        version.mlflow_tags = {"blocked": "true"}
        version.save()

    deployment = request(company.a, version, company.amir, environment="staging")

    assert deployment.state == "rejected"
    assert "not true or false" in deployment.decision["reasons"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('when: tier == "prohibited"', 'when: "[1].exists(1, true)"'), "rule 'prohibited'"),
        (
            ('when: tier == "prohibited"', 'when: "' + "(" * 300 + "true" + ")" * 300 + '"'),
            "prohibited",
        ),
        (('when: tier == "prohibited"', "when: [1]"), "'when' must be a CEL expression"),
        (
            ("validation_threshold: 0.75", "validation_threshold: 2024-01-01"),
            "params may hold only",
        ),
    ],
)
def test_odd_policy_input_is_a_400_not_a_500(company, change, message):
    response = publish(company.grace, DEFAULT.replace(*change))
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_yaml_aliases_are_refused_before_they_can_expand(company):
    bomb = (
        "name: default\nparams:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n  b: [*a, *a, *a, *a, *a]\n"
        "rules:\n  - id: r\n    when: 'true'\n    outcome: allow\n    reason: x\n"
    )
    response = client_for(company.grace).post(
        "/api/v1/policies/dry-run/",
        {"document": bomb, "context": {"tier": "minimal"}},
        format="json",
    )
    assert response.status_code == 400
    assert "anchors and aliases are not allowed" in response.json()["detail"]


def test_only_governance_tries_draft_policies_and_finance_cannot_read_a_catalog_through_a_dry_run(
    company, high_risk_version
):
    draft = client_for(company.amir).post(
        "/api/v1/policies/dry-run/",
        {"document": DEFAULT, "context": {"tier": "minimal"}},
        format="json",
    )
    assert draft.status_code == 403
    finance = client_for(company.fiona).post(
        "/api/v1/policies/dry-run/",
        {
            "tenant": "acme-retail",
            "model": "credit-scorer",
            "version": 1,
            "environment": "production",
        },
        format="json",
    )
    assert finance.status_code == 404


def test_a_malformed_answer_is_a_400_and_a_token_cannot_lower_the_tier(company):
    version = make_version(company.a)
    classify(company.a, version, "high")
    url = "/api/v1/tenants/acme-retail/models/credit-scorer/classification/"
    bad = client_for(company.amir).post(
        url, {"answers": {**ANSWERS["minimal"], "annex_iii_area": []}}, format="json"
    )
    assert bad.status_code == 400
    _, secret = make_token(company.a, ["read", "write"])

    lowered = client_for(token=secret).post(url, {"answers": ANSWERS["minimal"]}, format="json")

    assert lowered.status_code == 202
    with tenant_scope(company.a):
        version.model.refresh_from_db()
    assert version.model.risk_tier == "high"


def test_a_units_own_policy_is_not_listed_to_other_units(company):
    policy_load_from_repo()
    strict = (
        "name: bravo-strict\ntenants: [bravo-marketing]\nrules:\n"
        "  - id: all\n    when: 'true'\n    outcome: deny\n    reason: No.\n"
    )
    assert publish(company.grace, strict).status_code == 201
    names = {p["name"] for p in client_for(company.amir).get("/api/v1/policies/").json()["results"]}
    assert names == {"default"}
    names = {p["name"] for p in client_for(company.ben).get("/api/v1/policies/").json()["results"]}
    assert names == {"default", "bravo-strict"}
