"""Policies as code: publishing versions, refusing broken ones, and the dry-run."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent, PolicyVersion
from governance.services.policies import policy_load_from_repo
from governance.tests.builders import (
    DEFAULT,
    approved_card,
    classify,
    complete_card,
    make_version,
    publish,
    request,
)
from portal.monitoring.models import Monitor
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def test_the_repositorys_policies_load_once_with_their_content_hash(company):
    created = policy_load_from_repo()
    assert [(v.name, v.version, v.source) for v in created] == [
        ("default", 1, "repo:governance/policies/default.yaml")
    ]
    assert len(created[0].content_hash) == 64
    assert policy_load_from_repo() == []


def test_a_governance_lead_publishes_a_new_version_and_the_history_is_kept(company):
    policy_load_from_repo()
    stricter = DEFAULT.replace("validation_threshold: 0.75", "validation_threshold: 0.85")

    response = publish(company.grace, stricter, "Raise the validation bar.")

    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 2 and response.json()["in_force"] is True
    listing = client_for(company.amir).get("/api/v1/policies/").json()["results"]
    assert [(p["version"], p["in_force"]) for p in listing] == [(2, True), (1, False)]
    event = AuditEvent.objects.dangerously_across_tenants().get(
        action="policy.published", after__version=2
    )
    assert event.actor_label == "grace" and event.tenant_id is None


def test_only_governance_leads_publish(company):
    assert publish(company.alice, DEFAULT.replace("0.75", "0.5")).status_code == 403


def test_a_broken_cel_policy_is_refused_naming_the_line_and_the_old_one_still_applies(
    company, high_risk_version
):
    policy_load_from_repo()
    broken = DEFAULT.replace(
        'when: tier == "prohibited"', 'when: tier == "prohibited" &&& environment'
    )
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "&&&" in text)

    response = publish(company.grace, broken)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_policy"
    assert response.json()["detail"].startswith(f"Line {line}")
    assert "rule 'prohibited' is not a valid CEL expression" in response.json()["detail"]
    assert PolicyVersion.objects.count() == 1
    deployment = request(company.a, high_risk_version, company.amir)
    assert deployment.decision["policy"] == {"name": "default", "version": 1}
    assert deployment.state == "pending_approval"


def test_a_rule_naming_a_field_the_context_lacks_is_refused(company):
    response = publish(
        company.grace, DEFAULT.replace('when: tier == "prohibited"', 'when: teir == "prohibited"')
    )
    assert response.status_code == 400
    assert "'teir' is not a field of the request context" in response.json()["detail"]


def test_the_dry_run_matches_the_real_decision(company, high_risk_version):
    dry = client_for(company.amir).post(
        "/api/v1/policies/dry-run/",
        {
            "tenant": "acme-retail",
            "model": "credit-scorer",
            "version": 1,
            "environment": "production",
        },
        format="json",
    )
    assert dry.status_code == 200, dry.json()

    real = request(company.a, high_risk_version, company.amir, environment="production")

    assert dry.json()["outcome"] == real.decision["outcome"] == "require_approvals"
    assert dry.json()["reasons"] == real.decision["reasons"]
    assert dry.json()["rules"] == real.decision["rules"]
    assert dry.json()["requirements"] == real.decision["requirements"]


def test_the_dry_run_tries_a_draft_on_a_hypothetical_context(company):
    context = {
        "tenant": "acme-retail",
        "model": "m",
        "version": 1,
        "tier": "high",
        "environment": "production",
        "target": "local",
        "instance_type": "cpu.small",
        "replicas": 1,
        "metrics": {"val_auc": 0.8},
        "tags": {},
        "model_card": {"completeness": 100, "complete": True, "status": "approved", "missing": []},
        "drift_monitor": True,
        "monitor": {
            "requested": True,
            "exists": False,
            "enabled": False,
            "last_run_at": "",
            "last_verdict": "",
        },
        "cost": {"known": False, "hourly": 0.0, "monthly": 0.0, "currency": ""},
    }
    body = (
        client_for(company.grace)
        .post("/api/v1/policies/dry-run/", {"context": context, "document": DEFAULT}, format="json")
        .json()
    )
    assert body["outcome"] == "deny"
    assert body["reasons"] == [
        "The fairness metric fairness_demographic_parity_difference is not logged on the "
        "version's run; a high-risk model needs it for production."
    ]
    assert body["policy"] is None


def high_risk(company, metrics=None, *, card=approved_card):
    version = make_version(company.a, metrics=metrics)
    classify(company.a, version, "high")
    card(company.a, version)
    return version


def denials(deployment) -> list[str]:
    return [
        r["reason"] for r in deployment.decision["rules"] if r["fired"] and r["outcome"] == "deny"
    ]


def test_the_default_policy_refuses_a_high_risk_production_request_whose_fairness_metric_is_over_the_threshold(
    company,
):
    version = high_risk(
        company, {"val_accuracy": 0.91, "fairness_demographic_parity_difference": 0.23}
    )

    deployment = request(company.a, version, company.amir)

    assert deployment.state == "rejected"
    assert denials(deployment) == [
        "The fairness metric fairness_demographic_parity_difference is 0.23 on the version's run; "
        "a high-risk model may go to production only when it is at most 0.1."
    ]


def test_the_default_policy_refuses_a_high_risk_production_request_without_its_fairness_metric(
    company,
):
    version = high_risk(company, {"val_accuracy": 0.91, "fairness_gap": 0.01})

    deployment = request(company.a, version, company.amir)

    assert deployment.state == "rejected"
    assert denials(deployment) == [
        "The fairness metric fairness_demographic_parity_difference is not logged on the "
        "version's run; a high-risk model needs it for production."
    ]


def test_the_default_policy_wants_an_approved_card_not_only_a_complete_one(company):
    version = high_risk(company, card=complete_card)

    deployment = request(company.a, version, company.amir)

    assert deployment.state == "rejected"
    assert denials(deployment) == [
        "The model card is complete but not approved (it is draft); a high-risk model needs a "
        "card a governance lead approved for production."
    ]


def test_the_default_policy_wants_a_drift_monitor_for_high_risk_production(company):
    version = high_risk(company)

    unmonitored = request(company.a, version, company.amir, drift_monitor=False)

    assert unmonitored.state == "rejected"
    assert denials(unmonitored) == [
        "No drift monitor watches credit-scorer-production and the request does not ask for one; "
        "a high-risk model in production must be monitored for drift."
    ]
    with tenant_scope(company.a):  # the endpoint's monitor, created by hand
        Monitor.objects.create(tenant=company.a, endpoint=unmonitored.name, created_by_label="test")
    assert request(company.a, version, company.amir, drift_monitor=False).state == (
        "pending_approval"
    )


def test_the_dry_run_of_another_tenants_model_is_a_404(company, high_risk_version):
    response = client_for(company.bob).post(
        "/api/v1/policies/dry-run/",
        {
            "tenant": "acme-retail",
            "model": "credit-scorer",
            "version": 1,
            "environment": "production",
        },
        format="json",
    )
    assert response.status_code == 404


def test_a_tenant_policy_applies_only_to_its_tenant(company):
    policy_load_from_repo()
    strict = (
        "name: bravo-strict\ntenants: [bravo-marketing]\nrules:\n"
        "  - id: everything-reviewed\n    when: 'true'\n    outcome: require_approvals\n"
        "    approvals: 1\n    role: governance_lead\n    reason: Bravo reviews everything.\n"
        "otherwise: {outcome: deny, reason: unreachable}\n"
    )
    assert publish(company.grace, strict).status_code == 201
    a_version, b_version = make_version(company.a, "ma"), make_version(company.b, "mb")
    classify(company.a, a_version, "minimal")
    classify(company.b, b_version, "minimal")

    assert request(company.a, a_version, company.amir, environment="staging").state == "approved"
    b_deployment = request(company.b, b_version, company.ben, environment="staging")
    assert b_deployment.state == "pending_approval"
    assert b_deployment.decision["reasons"] == ["Bravo reviews everything."]
    with tenant_scope(company.b):
        assert b_deployment.approvals.get().policy_version.name == "bravo-strict"


def test_a_second_policy_for_every_tenant_is_refused(company):
    policy_load_from_repo()
    other = DEFAULT.replace("name: default", "name: other")
    response = publish(company.grace, other)
    assert response.status_code == 409
    assert "already applies to every tenant" in response.json()["detail"]


def test_a_prohibited_model_cannot_be_deployed_even_when_a_policy_allows_everything(company):
    policy_load_from_repo()
    lax = "name: default\nrules:\n  - id: all\n    when: 'true'\n    outcome: allow\n    reason: Anything goes.\n"
    assert publish(company.grace, lax).status_code == 201
    version = make_version(company.a, "social-scorer")
    classify(company.a, version, "prohibited")

    for environment in ("staging", "production"):
        dry = (
            client_for(company.amir)
            .post(
                "/api/v1/policies/dry-run/",
                {
                    "tenant": "acme-retail",
                    "model": "social-scorer",
                    "version": 1,
                    "environment": environment,
                },
                format="json",
            )
            .json()
        )
        deployment = request(company.a, version, company.amir, environment=environment)
        assert deployment.state == "rejected"
        assert "never deploys it" in deployment.decision["reasons"][0]
        assert dry["outcome"] == "deny" and dry["reasons"] == deployment.decision["reasons"]


def test_a_prohibited_model_is_denied_by_the_default_policy(company):
    version = make_version(company.a, "social-scorer")
    classify(company.a, version, "prohibited")
    response = client_for(company.amir).post(
        "/api/v1/tenants/acme-retail/deployments/",
        {
            "model": "social-scorer",
            "version": 1,
            "environment": "staging",
            "instance_type": "cpu.small",
        },
        format="json",
    )
    assert response.json()["state"] == "rejected"
    assert "prohibited AI practice" in response.json()["decision"]["reasons"][0]


def test_an_unclassified_model_is_sent_to_its_questionnaire(company):
    version = make_version(company.a, "new-model")
    deployment = request(company.a, version, company.amir, environment="staging")
    assert deployment.state == "rejected"
    assert deployment.decision["reasons"] == [
        "The model has no risk classification yet; answer its risk questionnaire first."
    ]
