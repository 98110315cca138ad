"""A pipeline hears of every state its deployment reaches: signed webhooks and short emails."""

from __future__ import annotations

import json

import pytest

from governance.tests.builders import classify, make_version, request
from governance.tests.conftest import high_risk_version
from portal.deployments import rollout
from portal.deployments.tests.builders import reload, serving_ready
from tenants.scoping import tenant_scope
from tenants.tests.test_notifications import Receiver, create_endpoint, receiver
from tests.builders import client_for

pytestmark = pytest.mark.django_db
__all__ = ["high_risk_version", "receiver"]  # fixtures shared with governance and tenants


def events_received(receiver: Receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.received]


def test_a_deployment_requested_approved_and_live_emits_those_three_events_and_emails(
    company, receiver, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    create_endpoint(
        company,
        receiver.url(),
        ["deployment.requested", "deployment.approved", "deployment.live"],
    )
    version = make_version(company.a, "churn")
    classify(company.a, version, "minimal")

    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(company.amir).post(
            "/api/v1/tenants/acme-retail/deployments/",
            {
                "model": "churn",
                "version": 1,
                "environment": "staging",
                "instance_type": "cpu.small",
            },
            format="json",
        )
        assert answer.status_code == 201, answer.json()
    deployment_id = answer.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert serving_ready(company.a, deployment_id).state == "live"

    received = events_received(receiver)
    assert [e["event"] for e in received] == [
        "deployment.requested",
        "deployment.approved",
        "deployment.live",
    ]
    approved = received[1]["data"]
    assert approved == {
        "tenant": "acme-retail",
        "deployment": deployment_id,
        "endpoint": "churn-staging",
        "revision": 1,
        "environment": "staging",
        "model": "churn",
        "version": 1,
        "state_before": "requested",
        "state": "approved",
        "reason": approved["reason"],
        "url": f"https://portal.example.com/t/acme-retail/deployments/{deployment_id}/",
    }
    assert received[2]["data"]["state_before"] == "deploying"

    subjects = {(to, m.subject) for m in mailoutbox for to in m.to}
    for person in ("amir@example.com", "alice@example.com"):
        assert (person, "churn v1 to staging (churn-staging r1): requested") in subjects
        assert (person, "churn v1 to staging (churn-staging r1): approved") in subjects
        assert (person, "churn v1 to staging (churn-staging r1): live") in subjects
    live_mail = next(m for m in mailoutbox if m.subject.endswith(": live"))
    assert f"/t/acme-retail/deployments/{deployment_id}/" in live_mail.body
    assert len(live_mail.body.splitlines()) <= 6


def test_a_rejected_request_tells_the_pipeline_why(
    company, receiver, high_risk_version, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["deployment.rejected"])
    classify(company.a, high_risk_version, "prohibited")

    with django_capture_on_commit_callbacks(execute=True):
        deployment = request(company.a, high_risk_version, company.amir)

    assert deployment.state == "rejected"
    [event] = events_received(receiver)
    assert event["event"] == "deployment.rejected"
    assert event["data"]["state_before"] == "requested"
    assert event["data"]["reason"]


def test_a_rollback_and_a_retirement_are_announced_with_the_revision_they_concern(
    company, receiver, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["deployment.rolled_back", "deployment.retired"])
    v1 = make_version(company.a, version=1)
    classify(company.a, v1, "minimal")
    v2 = make_version(company.a, version=2)
    first = request(company.a, v1, company.amir, environment="staging")
    rollout.rollout_start(tenant_id=company.a.pk, deployment_id=first.pk)
    serving_ready(company.a, first.pk)
    second = request(company.a, v2, company.amir, environment="staging")
    rollout.rollout_start(tenant_id=company.a.pk, deployment_id=second.pk)
    serving_ready(company.a, second.pk)

    with django_capture_on_commit_callbacks(execute=True), tenant_scope(company.a):
        rollout.deployment_rollback(actor=rollout.SYSTEM, deployment=reload(company.a, second.pk))

    [event] = events_received(receiver)
    assert event["event"] == "deployment.rolled_back"
    assert (event["data"]["deployment"], event["data"]["revision"]) == (second.pk, 2)
    assert event["data"]["state_before"] == "live"


def test_every_state_a_deployment_reaches_is_an_event_named_after_it(
    company, receiver, django_capture_on_commit_callbacks
):
    create_endpoint(company, receiver.url(), ["*"])
    version = make_version(company.a)
    classify(company.a, version, "minimal")

    with django_capture_on_commit_callbacks(execute=True):
        deployment = request(company.a, version, company.amir, environment="staging")
        rollout.rollout_start(tenant_id=company.a.pk, deployment_id=deployment.pk)

    assert [e["event"] for e in events_received(receiver)] == [
        "deployment.requested",
        "deployment.approved",
        "deployment.deploying",
    ]


def test_another_units_endpoints_hear_nothing_of_this_units_deployments(
    company, receiver, django_capture_on_commit_callbacks
):
    answer = client_for(company.bob).post(
        "/api/v1/tenants/bravo-marketing/webhooks/",
        {"url": receiver.url(), "events": ["*"]},
        format="json",
    )
    assert answer.status_code == 201
    version = make_version(company.a)
    classify(company.a, version, "minimal")

    with django_capture_on_commit_callbacks(execute=True):
        request(company.a, version, company.amir, environment="staging")

    assert receiver.received == []
