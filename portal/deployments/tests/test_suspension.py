"""Suspending live revisions: a model reclassified as prohibited, an overdue re-certification past
its grace period, and a new approval that resumes them. No model server is needed here: the
revisions go live as the serving runtime would report them (see ``test_serving`` for the real
servers)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from governance.models import AuditEvent, Incident, ModelCertification
from governance.services.approvals import certifications_check
from governance.tests.builders import DEFAULT, classify, decide, make_version, publish, request
from governance.tests.conftest import high_risk_version
from portal.deployments import rollout, targets
from portal.deployments.models import Deployment
from portal.deployments.targets.base import DeploymentTarget
from portal.deployments.tests.builders import pretend_ready, reload
from tenants import notifications, webhooks
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for, make_token, signed_in

pytestmark = pytest.mark.usefixtures("eager_celery")
__all__ = ["high_risk_version"]  # a fixture these tests share with governance's


def approved_and_live(company, deployment: Deployment, approvers, callbacks) -> Deployment:
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    with callbacks(execute=True):
        for approver in approvers:
            assert decide(approver, approval.pk).status_code == 200
    return pretend_ready(company.a, deployment.pk)


def predict(company, token: str, endpoint: str):
    return Client().post(
        f"/serve/{company.a.slug}/{endpoint}/invocations",
        data='{"inputs": {"income": [1.0]}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def actions(company, prefix: str) -> list[str]:
    with tenant_scope(company.a):
        return list(
            AuditEvent.objects.filter(action__startswith=prefix)
            .order_by("id")
            .values_list("action", flat=True)
        )


@pytest.fixture
def webhook(company, settings, monkeypatch):
    """A's endpoint for suspension notices; returns the bodies it received."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    received: list[dict] = []

    def receive(url, *, body, headers):
        received.append(json.loads(body))
        return webhooks.Answer(ok=True, status_code=200)

    monkeypatch.setattr(webhooks, "_post", receive)
    with tenant_scope(company.a):
        notifications.webhook_endpoint_create(
            actor=TEST_ACTOR,
            tenant=company.a,
            url="http://hooks.internal/governance",
            events=["model.suspended", "model.resumed"],
            created_by=None,
        )
    return received


def test_a_model_reclassified_as_prohibited_is_suspended_in_every_environment_at_once(
    company, mailoutbox, webhook, django_capture_on_commit_callbacks
):
    version = make_version(company.a)
    classify(company.a, version, "minimal")
    staging = pretend_ready(
        company.a, request(company.a, version, company.amir, environment="staging").pk
    )
    production = approved_and_live(
        company,
        request(company.a, version, company.amir),
        [company.alice],
        django_capture_on_commit_callbacks,
    )
    assert (staging.state, production.state) == ("live", "live")
    _, token = make_token(company.a, ["predict"])
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        classify(company.a, version, "prohibited")

    for revision in (staging, production):
        suspended = reload(company.a, revision.pk)
        assert suspended.state == "suspended" and suspended.traffic_weight == 0
    answer = predict(company, token, "credit-scorer-production")
    assert answer.status_code == 503
    assert answer.json()["message"].startswith("'credit-scorer-production' is suspended: ")
    assert "prohibited AI practice" in answer.json()["message"]
    with tenant_scope(company.a):
        incident = Incident.objects.get(source="classification")
    assert incident.severity == "sev1" and incident.model_id == version.model_id
    assert "credit-scorer-staging r1" in incident.description
    assert actions(company, "deployment.suspended") == ["deployment.suspended"] * 2
    told = [m for m in mailoutbox if "suspended" in m.subject]
    assert {r for m in told for r in m.to} == {
        "alice@example.com",
        "grace@example.com",
        "gus@example.com",
    }
    assert told[0].subject == "credit-scorer: 2 live revision(s) suspended"
    [notice] = webhook
    assert notice["event"] == "model.suspended"
    assert [d["environment"] for d in notice["data"]["deployments"]] == [
        "staging",
        "production",
    ]


def test_a_revision_still_rolling_out_when_its_model_becomes_prohibited_never_goes_live(company):
    version = make_version(company.a)
    classify(company.a, version, "minimal")
    deployment = request(company.a, version, company.amir, environment="staging")
    rollout.rollout_start(tenant_id=company.a.pk, deployment_id=deployment.pk)
    deploying = reload(company.a, deployment.pk)
    assert deploying.state == "deploying"

    classify(company.a, version, "prohibited")

    with tenant_scope(company.a):  # the model server answers /ping after all
        Deployment.objects.filter(pk=deployment.pk).update(
            serving={**deploying.serving, "state": "ready", "url": "http://127.0.0.1:9"}
        )
    assert rollout.rollout_advance(tenant_id=company.a.pk, deployment_id=deployment.pk) == "failed"
    with tenant_scope(company.a):
        assert Incident.objects.filter(source="classification").count() == 1


def test_a_suspended_deployment_says_why_on_its_page_and_in_the_api_and_the_list_counts_it(
    company,
):
    version = make_version(company.a)
    classify(company.a, version, "minimal")
    staging = pretend_ready(
        company.a, request(company.a, version, company.amir, environment="staging").pk
    )
    classify(company.a, version, "prohibited")

    detail = client_for(company.amir).get(f"/api/v1/tenants/acme-retail/deployments/{staging.pk}/")
    assert detail.status_code == 200
    assert detail.json()["state"] == "suspended"
    assert detail.json()["suspension"]["cause"] == "prohibited"
    assert "prohibited AI practice" in detail.json()["suspension"]["reason"]
    listed = client_for(company.amir).get(
        "/api/v1/tenants/acme-retail/deployments/?state=suspended"
    )
    assert [d["id"] for d in listed.json()["results"]] == [staging.pk]
    elsewhere = client_for(company.bob).get(
        f"/api/v1/tenants/acme-retail/deployments/{staging.pk}/"
    )
    assert elsewhere.status_code == 404

    page = signed_in(company.amir).get(f"/t/acme-retail/deployments/{staging.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Suspended" in text and "prohibited AI practice" in text


def overdue_by(company, days: float) -> None:
    """Run the daily check as if ``days`` had passed since the certification's deadline."""
    with tenant_scope(company.a):
        due_at = ModelCertification.objects.get().due_at
        certifications_check(now=due_at + timedelta(days=days))


def test_an_overdue_high_risk_certification_suspends_after_the_grace_period_and_re_approval_resumes_it(
    company, high_risk_version, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.RECERTIFICATION_GRACE_DAYS = 14
    live = approved_and_live(
        company,
        request(company.a, high_risk_version, company.amir),
        [company.grace, company.gus],
        django_capture_on_commit_callbacks,
    )
    assert live.state == "live" and live.traffic_weight == 100
    with tenant_scope(company.a):
        suspends_on = ModelCertification.objects.get().due_at + timedelta(days=14)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        overdue_by(company, 1)
        overdue_by(company, 2)  # nothing new to say
        overdue_by(company, 7.5)  # 7 days left
        overdue_by(company, 13.5)  # 1 day left
    # Three notices, each to the unit's owner and the two governance leads.
    assert len(mailoutbox) == 9
    assert {m.subject for m in mailoutbox} == {
        f"credit-scorer is overdue for re-certification; suspended on {suspends_on:%Y-%m-%d}"
    }
    assert reload(company.a, live.pk).state == "live"

    with django_capture_on_commit_callbacks(execute=True):
        overdue_by(company, 14.01)
        overdue_by(company, 15)  # suspended once
    suspended = reload(company.a, live.pk)
    assert suspended.state == "suspended" and suspended.traffic_weight == 0
    assert actions(company, "deployment.suspended") == ["deployment.suspended"]
    assert any("more than 14 days overdue" in m.body for m in mailoutbox)
    with tenant_scope(company.a):
        review = suspended.approvals.get(purpose="review", state="pending")

    with django_capture_on_commit_callbacks(execute=True):
        decide(company.grace, review.pk)
        decide(company.gus, review.pk)

    resumed = reload(company.a, live.pk)
    assert resumed.state == "live" and resumed.traffic_weight == 100
    assert resumed.serving["state"] == "pending", "the model server is started again"
    assert actions(company, "deployment.resumed") == ["deployment.resumed"]
    with tenant_scope(company.a):
        assert ModelCertification.objects.get().state == "current"
        suspension = resumed.suspensions.get()
    assert suspension.ended_at is not None
    assert "credit-scorer: 1 live revision(s) resumed" in {m.subject for m in mailoutbox}


def test_a_policy_that_flags_an_overdue_certification_only_tells_people(
    company, high_risk_version, settings, mailoutbox, django_capture_on_commit_callbacks
):
    flagging = DEFAULT.replace(
        "on_recertification_overdue: suspend", "on_recertification_overdue: flag"
    )
    assert publish(company.grace, flagging).status_code == 201
    live = approved_and_live(
        company,
        request(company.a, high_risk_version, company.amir),
        [company.grace, company.gus],
        django_capture_on_commit_callbacks,
    )
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        overdue_by(company, 1)
        overdue_by(company, 30)

    assert reload(company.a, live.pk).state == "live"
    assert len(mailoutbox) == 3
    assert {m.subject for m in mailoutbox} == {"credit-scorer is overdue for re-certification"}


def test_a_policy_with_an_unknown_overdue_action_is_refused_with_a_sentence(company):
    document = DEFAULT.replace(
        "on_recertification_overdue: suspend", "on_recertification_overdue: shutdown"
    )
    response = publish(company.grace, document)
    assert response.status_code == 400
    assert "on_recertification_overdue must be 'suspend'" in response.json()["detail"]


def test_reviewers_who_reject_a_suspended_revision_retire_it(
    company, high_risk_version, django_capture_on_commit_callbacks
):
    live = approved_and_live(
        company,
        request(company.a, high_risk_version, company.amir),
        [company.grace, company.gus],
        django_capture_on_commit_callbacks,
    )
    overdue_by(company, 20)
    with tenant_scope(company.a):
        review = live.approvals.get(purpose="review")

    decide(company.grace, review.pk, verdict="reject", comment="Retire it.")

    retired = reload(company.a, live.pk)
    assert retired.state == "retired" and retired.live_until is not None
    with tenant_scope(company.a):
        assert retired.suspensions.get().ended_at is not None


class ClusterTarget(DeploymentTarget):
    """A cluster's API (KServe's, SageMaker's) that starts a server a moment after it is asked."""

    kind = "kserve"

    def __init__(self) -> None:
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.state = "ready"

    def create_deployment(self, name, model_uri, flavor=None, config=None):
        self.created.append(name)
        return {"name": name, "state": "pending", "url": "", "message": "Starting."}

    def update_deployment(self, name, model_uri=None, flavor=None, config=None):
        return self.get_deployment(name)

    def delete_deployment(self, name, config=None):
        self.deleted.append(name)

    def get_deployment(self, name):
        url = "http://cluster.internal/v2/models/m" if self.state == "ready" else ""
        return {"name": name, "state": self.state, "url": url, "message": ""}

    def list_deployments(self):
        return []

    def predict(self, deployment_name, inputs):
        raise NotImplementedError


def test_a_revision_resumed_on_a_cluster_is_stopped_there_started_again_and_followed_until_ready(
    company, high_risk_version, monkeypatch, django_capture_on_commit_callbacks
):
    cluster = ClusterTarget()
    monkeypatch.setitem(targets._cache, "kserve", cluster)
    live = approved_and_live(
        company,
        request(company.a, high_risk_version, company.amir, target="kserve"),
        [company.grace, company.gus],
        django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=True):
        overdue_by(company, 20)
    assert cluster.deleted == [live.serving["target_name"]]
    with tenant_scope(company.a):
        review = live.approvals.get(purpose="review")

    cluster.state = "pending"
    with django_capture_on_commit_callbacks(execute=True):
        decide(company.grace, review.pk)
        cluster.state = "ready"  # by the time the resumed revision is looked at
        decide(company.gus, review.pk)

    resumed = reload(company.a, live.pk)
    assert len(cluster.created) == 2, "asked to serve it again"
    assert resumed.state == "live" and resumed.serving["state"] == "ready"
    assert resumed.serving["url"] == "http://cluster.internal/v2/models/m"
