"""Rollout rules that need no model server: approvals first, traffic weights, rollback limits."""

from __future__ import annotations

import pytest

from governance.tests.builders import classify, make_version, request
from governance.tests.conftest import high_risk_version
from portal.deployments import rollout
from portal.deployments.models import Deployment
from portal.deployments.tests.builders import pretend_ready, reload
from portal.deployments.workflow import deployment_review_request
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.usefixtures("eager_celery")
__all__ = ["high_risk_version"]  # a fixture these tests share with governance's


def decide(user, approval_id: int):
    return client_for(user).post(
        f"/api/v1/approvals/{approval_id}/decisions/", {"verdict": "approve"}, format="json"
    )


def test_a_high_risk_production_deployment_does_not_roll_out_before_its_approvals(
    company, high_risk_version, django_capture_on_commit_callbacks
):
    deployment = request(company.a, high_risk_version, company.amir)
    assert deployment.state == "pending_approval"

    assert (
        rollout.rollout_start(tenant_id=company.a.pk, deployment_id=deployment.pk)
        == "pending_approval"
    )
    assert reload(company.a, deployment.pk).serving == {}

    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    with django_capture_on_commit_callbacks(execute=True):
        decide(company.grace, approval.pk)
    assert reload(company.a, deployment.pk).state == "pending_approval"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decide(company.gus, approval.pk)
    assert callbacks, "the approval enqueues the rollout after its commit"

    rolled = reload(company.a, deployment.pk)
    assert rolled.state == "deploying"
    assert rolled.serving["target_name"] == "acme-retail-credit-scorer-production-r1"


def test_a_new_revision_takes_the_traffic_and_the_old_one_stays_warm_for_a_rollback(company):
    v1 = make_version(company.a, version=1)
    classify(company.a, v1, "minimal")
    v2 = make_version(company.a, version=2)
    first = request(company.a, v1, company.amir, environment="staging")
    assert pretend_ready(company.a, first.pk).traffic_weight == 100

    second = request(company.a, v2, company.amir, environment="staging")
    assert (second.name, second.revision) == ("credit-scorer-staging", 2)
    assert pretend_ready(company.a, second.pk).traffic_weight == 100
    old = reload(company.a, first.pk)
    assert old.state == "live" and old.traffic_weight == 0 and old.warm_until is not None

    with tenant_scope(company.a):
        assert rollout.retire_warm_revisions(old.warm_until) == 0
    serving = rollout.deployment_rollback(
        actor=rollout.SYSTEM, deployment=reload(company.a, second.pk)
    )
    assert serving.pk == first.pk
    assert reload(company.a, first.pk).traffic_weight == 100
    assert reload(company.a, second.pk).state == "rolled_back"


def test_a_rollback_needs_a_warm_earlier_revision(company):
    v1 = make_version(company.a, version=1)
    classify(company.a, v1, "minimal")
    v2 = make_version(company.a, version=2)
    first = request(company.a, v1, company.amir, environment="staging")
    pretend_ready(company.a, first.pk)
    second = request(company.a, v2, company.amir, environment="staging")
    pretend_ready(company.a, second.pk)
    warm_until = reload(company.a, first.pk).warm_until

    assert rollout.retire_warm_revisions(warm_until.replace(year=warm_until.year + 1)) == 1
    assert reload(company.a, first.pk).state == "retired"

    response = client_for(company.amir).post(
        f"/api/v1/tenants/acme-retail/deployments/{second.pk}/rollback/", {}, format="json"
    )
    assert response.status_code == 409
    assert "still warm" in response.json()["detail"]


def test_a_viewer_cannot_roll_back_and_another_tenant_gets_a_404(company):
    v1 = make_version(company.a, version=1)
    classify(company.a, v1, "minimal")
    first = request(company.a, v1, company.amir, environment="staging")
    url = f"/api/v1/tenants/acme-retail/deployments/{first.pk}/rollback/"

    assert client_for(company.ava).post(url, {}, format="json").status_code == 403
    elsewhere = client_for(company.bob).post(url, {}, format="json")
    missing = client_for(company.alice).post(
        "/api/v1/tenants/acme-retail/deployments/999999/rollback/", {}, format="json"
    )
    assert elsewhere.status_code == 404 and missing.status_code == 404
    detail = client_for(company.bob).get(f"/api/v1/tenants/acme-retail/deployments/{first.pk}/")
    assert detail.status_code == 404


def test_an_endpoint_keeps_its_model_and_environment(company):
    v1 = make_version(company.a, version=1)
    other = make_version(company.a, name="limit-setter", version=1)
    classify(company.a, v1, "minimal")
    classify(company.a, other, "minimal")
    request(company.a, v1, company.amir, environment="staging")
    response = client_for(company.amir).post(
        "/api/v1/tenants/acme-retail/deployments/",
        {
            "model": "limit-setter",
            "version": 1,
            "environment": "staging",
            "instance_type": "cpu.small",
            "name": "credit-scorer-staging",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "serves model 'credit-scorer'" in response.json()["detail"]


def live_high_risk(company, version, callbacks) -> Deployment:
    deployment = request(company.a, version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    with callbacks(execute=True):
        decide(company.grace, approval.pk)
        decide(company.gus, approval.pk)
    return pretend_ready(company.a, deployment.pk)


def test_a_live_deployment_put_back_under_review_keeps_serving_until_reviewers_reject_it(
    company, high_risk_version, django_capture_on_commit_callbacks
):
    live = live_high_risk(company, high_risk_version, django_capture_on_commit_callbacks)
    assert live.state == "live" and live.traffic_weight == 100

    with tenant_scope(company.a):
        review = deployment_review_request(
            actor=rollout.SYSTEM, deployment=live, reason="The traffic drifted."
        )
        again = deployment_review_request(actor=rollout.SYSTEM, deployment=live, reason="Again.")
    assert again.pk == review.pk
    assert review.purpose == "review" and review.requirements == {"governance_lead": 2}
    assert review.reasons[0] == "The traffic drifted."
    assert reload(company.a, live.pk).state == "live"

    response = client_for(company.grace).post(
        f"/api/v1/approvals/{review.pk}/decisions/",
        {"verdict": "reject", "comment": "Retrain it first."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    withdrawn = reload(company.a, live.pk)
    assert withdrawn.state == "retired" and withdrawn.traffic_weight == 0
    assert withdrawn.live_until is not None


def test_an_approved_review_leaves_the_deployment_live(
    company, high_risk_version, django_capture_on_commit_callbacks
):
    live = live_high_risk(company, high_risk_version, django_capture_on_commit_callbacks)
    with tenant_scope(company.a):
        review = deployment_review_request(
            actor=rollout.SYSTEM, deployment=live, reason="The traffic drifted."
        )
    decide(company.grace, review.pk)
    decide(company.gus, review.pk)

    with tenant_scope(company.a):
        review.refresh_from_db()
    assert review.state == "approved"
    assert reload(company.a, live.pk).state == "live"
    assert reload(company.a, live.pk).traffic_weight == 100
