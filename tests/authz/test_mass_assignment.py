"""Fields a caller may not set are ignored or refused, and another unit's things never get linked.

Each write sends, next to what it needs, what it must not be able to choose: the unit, the state,
the reviewer, the totals, who asked. The stored row shows none of it. A body that names another
unit's model, deployment, line or dispute is a 4xx and links nothing.
"""

from __future__ import annotations

import pytest

from chargeback.models import Budget, CreditNote, LineDispute, Statement, StatementState
from governance.models import ApprovalDecision, Incident, ModelCard, RiskClassification
from governance.tests.builders import ANSWERS
from portal.catalog.models import RegisteredModel
from portal.deployments.models import Deployment, DeploymentState
from portal.monitoring.models import Baseline, Monitor
from tenants.models import Membership, ServiceToken, WebhookEndpoint
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SNEAKY = {
    "tenant": "bravo-marketing",
    "tenant_id": 2,
    "id": 424242,
    "state": "approved",
    "status": "approved",
    "approver": "grace",
    "reviewer": "grace",
    "reviewed_by": "grace",
    "requested_by": "adam",
    "created_by": "adam",
    "total": "0.00",
    "amount_due": "0.00",
    "risk_tier": "minimal",
}


def url(world, tail: str) -> str:
    return f"/api/v1/tenants/{world.a.tenant.slug}/{tail}"


def assert_refused(answer) -> None:
    assert 400 <= answer.status_code < 500, answer.content
    detail = answer.json()["detail"]
    assert len(detail) > 15 and detail.rstrip().endswith((".", ")")), detail


def test_a_new_member_joins_the_unit_in_the_url_whatever_the_body_says(world):
    alice = client_for(world.company.alice)
    answer = alice.post(
        url(world, "members/"), {"username": "gus", "role": "viewer", **SNEAKY}, format="json"
    )
    assert answer.status_code == 201
    with tenant_scope(world.b.tenant):
        assert not Membership.objects.filter(user__username="gus").exists()
    with tenant_scope(world.a.tenant):
        membership = Membership.objects.get(user__username="gus")
    assert membership.pk != SNEAKY["id"] and membership.role == "viewer"


def test_a_token_is_created_by_its_creator_in_the_unit_in_the_url(world):
    alice = client_for(world.company.alice)
    body = {"name": "ci", "scopes": ["read"], "prefix": "mlp_chosen", "revoked_at": None, **SNEAKY}
    answer = alice.post(url(world, "tokens/"), body, format="json")
    assert answer.status_code == 201
    with tenant_scope(world.a.tenant):
        token = ServiceToken.objects.get(pk=answer.json()["id"])
    assert token.tenant_id == world.a.tenant.pk
    assert token.created_by == world.company.alice
    assert token.prefix != "mlp_chosen"


def test_a_webhook_keeps_the_secret_the_portal_made_and_its_url_cannot_be_patched(world, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    alice = client_for(world.company.alice)
    body = {"url": "https://hooks.example.com/a", "events": ["*"], "secret": "chosen", **SNEAKY}
    created = alice.post(url(world, "webhooks/"), body, format="json")
    assert created.status_code == 201
    with tenant_scope(world.a.tenant):
        endpoint = WebhookEndpoint.objects.get(pk=created.json()["id"])
    assert endpoint.secret != "chosen" and endpoint.created_by == world.company.alice
    changed = alice.patch(
        url(world, f"webhooks/{endpoint.pk}/"),
        {"url": "http://169.254.169.254/", "secret": "chosen", "tenant": "bravo-marketing"},
        format="json",
    )
    assert changed.status_code in {200, 400}
    with tenant_scope(world.a.tenant):
        endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/a" and endpoint.secret != "chosen"
    assert endpoint.tenant_id == world.a.tenant.pk


def test_catalog_metadata_edits_leave_the_risk_tier_the_name_and_the_unit_alone(world):
    amir = client_for(world.company.amir)
    answer = amir.patch(
        url(world, f"models/{world.a.model}/"),
        {"owner": "Risk team", "name": "renamed", **SNEAKY},
        format="json",
    )
    assert answer.status_code in {200, 400}
    with tenant_scope(world.a.tenant):
        model = RegisteredModel.objects.get(name=world.a.model)
    assert model.risk_tier == "high" and model.tenant_id == world.a.tenant.pk


def test_a_classification_takes_its_tier_and_who_set_it_from_the_answers_and_the_caller_only(
    world,
):
    amir = client_for(world.company.amir)
    answer = amir.post(
        url(world, f"models/{world.a.model}/classification/"),
        {"answers": ANSWERS["prohibited"], "tier": "minimal", "set_by": "governance", **SNEAKY},
        format="json",
    )
    assert answer.status_code == 201
    with tenant_scope(world.a.tenant):
        latest = (
            RiskClassification.objects.filter(model__name=world.a.model).order_by("-pk").first()
        )
        assert latest is not None and latest.tier == "prohibited" and latest.set_by == "unit"
        assert RegisteredModel.objects.get(name=world.a.model).risk_tier == "prohibited"


def test_a_card_edit_cannot_approve_the_card(world):
    amir = client_for(world.company.amir)
    answer = amir.patch(
        url(world, f"models/{world.a.model}/versions/1/card/"),
        {"purpose": "Scores applications.", "approved_by": "grace", **SNEAKY},
        format="json",
    )
    assert answer.status_code == 200
    with tenant_scope(world.a.tenant):
        card = ModelCard.objects.get(model_version=world.a.version)
    assert card.status == "draft"


def test_an_incident_is_opened_open_in_the_unit_in_the_url(world):
    amir = client_for(world.company.amir)
    answer = amir.post(
        url(world, "incidents/"),
        {"title": "Slow", "severity": "sev4", "opened_by_label": "someone else", **SNEAKY},
        format="json",
    )
    assert answer.status_code == 201
    with tenant_scope(world.a.tenant):
        incident = Incident.objects.get(pk=answer.json()["id"])
    assert incident.status == "open" and incident.tenant_id == world.a.tenant.pk
    assert incident.opened_by_label != "someone else"


def test_a_deployment_request_starts_at_the_start_whatever_the_body_says(world):
    amir = client_for(world.company.amir)
    body = {
        "model": world.a.model,
        "version": 1,
        "environment": "staging",
        "instance_type": "cpu.small",
        "traffic_weight": 100,
        "approved": True,
        **SNEAKY,
        "state": DeploymentState.LIVE,
    }
    answer = amir.post(url(world, "deployments/"), body, format="json")
    assert answer.status_code == 201
    with tenant_scope(world.a.tenant):
        deployment = Deployment.objects.get(pk=answer.json()["id"])
    assert deployment.state != DeploymentState.LIVE and deployment.live_from is None
    assert deployment.tenant_id == world.a.tenant.pk
    assert deployment.requested_by == world.company.amir


def test_a_budget_is_set_for_the_unit_in_the_url(world):
    alice = client_for(world.company.alice)
    answer = alice.put(
        url(world, "budget/"), {"amount": "1000.00", "spent": "0", **SNEAKY}, format="json"
    )
    assert answer.status_code == 200
    with tenant_scope(world.b.tenant):
        assert not Budget.objects.exists()
    with tenant_scope(world.a.tenant):
        assert Budget.objects.get().tenant_id == world.a.tenant.pk


def test_a_dispute_is_opened_open_by_its_owner(world):
    alice = client_for(world.company.alice)
    with tenant_scope(world.a.tenant):
        line = world.a.statement.lines.exclude(pk=world.a.line.pk).order_by("position").first()
    assert line is not None
    answer = alice.post(
        url(world, f"statements/{world.a.statement.pk}/lines/{line.pk}/disputes/"),
        {"comment": "Not ours.", "resolution": "accepted", **SNEAKY, "state": "accepted"},
        format="json",
    )
    assert answer.status_code == 201
    with tenant_scope(world.a.tenant):
        dispute = LineDispute.objects.get(pk=answer.json()["id"])
    assert dispute.state == "open" and dispute.line_id == line.pk
    assert dispute.raised_by == world.company.alice


def test_a_reviewer_decides_as_themselves(world):
    grace = client_for(world.company.grace)
    answer = grace.post(
        f"/api/v1/approvals/{world.a.approval.pk}/decisions/",
        {"verdict": "request_changes", "comment": "More.", **SNEAKY, "reviewer": "gus"},
        format="json",
    )
    assert answer.status_code == 200
    with tenant_scope(world.a.tenant):
        decision = ApprovalDecision.objects.get(approval=world.a.approval)
    assert decision.reviewer == world.company.grace


def test_voiding_a_statement_changes_its_state_and_nothing_else(world):
    fiona = client_for(world.company.fiona)
    before = world.a.statement
    answer = fiona.post(
        f"/api/v1/statements/{before.pk}/void/",
        {"reason": "Wrong month.", **SNEAKY, "total": "0.00", "state": "finalized"},
        format="json",
    )
    assert answer.status_code == 200
    with tenant_scope(world.a.tenant):
        after = Statement.objects.get(pk=before.pk)
    assert after.state == StatementState.VOID and after.total == before.total
    assert after.number == before.number and after.tenant_id == world.a.tenant.pk


# --- Another unit's things in a body ----------------------------------------------------------


def test_another_units_model_in_a_deployment_request_is_refused(world):
    amir = client_for(world.company.amir)
    answer = amir.post(
        url(world, "deployments/"),
        {
            "model": world.b.model,
            "version": 1,
            "environment": "staging",
            "instance_type": "cpu.small",
        },
        format="json",
    )
    assert_refused(answer)
    with tenant_scope(world.a.tenant):
        assert not Deployment.objects.filter(model_version__model__name=world.b.model).exists()


def test_another_units_deployment_in_an_incident_is_refused(world):
    amir = client_for(world.company.amir)
    answer = amir.post(
        url(world, "incidents/"),
        {"title": "x", "severity": "sev4", "deployment": world.b.live.pk},
        format="json",
    )
    assert_refused(answer)
    answer = amir.post(
        url(world, "incidents/"),
        {"title": "x", "severity": "sev4", "model": world.b.model},
        format="json",
    )
    assert_refused(answer)
    with tenant_scope(world.a.tenant):
        assert not Incident.objects.filter(title="x").exists()


def test_another_units_deployment_in_a_monitor_is_refused(world):
    amir = client_for(world.company.amir)
    created = amir.post(url(world, "monitors/"), {"endpoint": world.b.live.name}, format="json")
    assert_refused(created)
    moved = amir.patch(
        url(world, f"monitors/{world.a.monitor.pk}/"),
        {"endpoint": world.b.live.name},
        format="json",
    )
    assert_refused(moved)
    with tenant_scope(world.a.tenant):
        assert not Monitor.objects.filter(endpoint=world.b.live.name).exists()


def test_another_units_deployment_as_a_baseline_source_is_refused(world):
    amir = client_for(world.company.amir)
    live = world.a.live
    answer = amir.post(
        url(world, f"models/{live.model_version.model.name}/versions/1/baseline/"),
        {"source": "capture", "deployment": world.b.live.pk},
        format="json",
    )
    assert_refused(answer)
    with tenant_scope(world.a.tenant):
        assert Baseline.objects.filter(model_version=live.model_version).count() == 1


def test_another_units_deployment_in_an_estimate_is_the_same_404_as_a_missing_one(world):
    amir = client_for(world.company.amir)
    plan = {"environment": "production", "instance_type": "cpu.small"}
    foreign = amir.post(
        url(world, "estimates/"), {**plan, "deployment": world.b.live.pk}, format="json"
    )
    missing = amir.post(url(world, "estimates/"), {**plan, "deployment": 987654321}, format="json")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


def test_another_units_line_or_dispute_in_a_credit_note_is_refused(world):
    fiona = client_for(world.company.fiona)
    statement = world.a.statement.pk
    for body in (
        {"amount": "1.00", "reason": "Goodwill.", "line": world.b.line.pk},
        {"amount": "1.00", "reason": "Goodwill.", "dispute": world.b.dispute.pk},
    ):
        assert_refused(fiona.post(f"/api/v1/statements/{statement}/credit/", body, format="json"))
    with tenant_scope(world.b.tenant):
        assert not CreditNote.objects.exists()
    with tenant_scope(world.a.tenant):
        assert not CreditNote.objects.exists()


def test_another_units_dispute_under_this_statement_is_the_same_404_as_a_missing_one(world):
    fiona = client_for(world.company.fiona)
    statement = world.a.statement.pk
    body = {"resolution": "The usage is right."}
    foreign = fiona.post(
        f"/api/v1/statements/{statement}/disputes/{world.b.dispute.pk}/reject/", body, format="json"
    )
    missing = fiona.post(
        f"/api/v1/statements/{statement}/disputes/987654321/reject/", body, format="json"
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    with tenant_scope(world.b.tenant):
        assert LineDispute.objects.get(pk=world.b.dispute.pk).state == "open"


def test_another_units_webhook_delivery_cannot_be_redelivered_through_this_unit(world):
    alice = client_for(world.company.alice)
    foreign = alice.post(
        url(
            world,
            f"webhooks/{world.a.webhook.pk}/deliveries/{world.b.delivery.delivery_id}/redeliver/",
        )
    )
    assert foreign.status_code == 404
    with tenant_scope(world.b.tenant):
        world.b.delivery.refresh_from_db()
    assert world.b.delivery.status == "failed"


def test_another_units_model_in_a_policy_dry_run_is_the_same_404_as_a_missing_one(world):
    alice = client_for(world.company.alice)
    body = {"model": world.b.model, "version": 1, "environment": "production"}
    foreign = alice.post(
        "/api/v1/policies/dry-run/", {**body, "tenant": world.b.tenant.slug}, format="json"
    )
    missing = alice.post(
        "/api/v1/policies/dry-run/", {**body, "tenant": "no-such-unit"}, format="json"
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    cross = alice.post(
        "/api/v1/policies/dry-run/", {**body, "tenant": world.a.tenant.slug}, format="json"
    )
    assert cross.status_code == 404
