from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from governance.models import AuditEvent, Incident
from portal.core.audit import Actor
from portal.monitoring import services
from portal.monitoring.models import DriftRun, Monitor
from portal.monitoring.store import capture_compact
from portal.monitoring.tests.builders import capture, make_deployment, with_baseline
from tenants import notifications, webhooks
from tenants.models import WebhookDelivery
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def run_now(deployment, monitor=None) -> DriftRun:
    with tenant_scope(deployment.tenant_id):
        run = services.drift_run_request(deployment=deployment, monitor=monitor, trigger="api")
        return services.drift_run_execute(run_id=run.pk)


def test_unshifted_traffic_gives_status_ok_with_a_result_per_column(company):
    deployment = with_baseline(company.a)
    capture(deployment, 2000, seed=7)
    run = run_now(deployment)
    assert run.status == "succeeded" and run.progress == 100
    assert run.drift_status == "ok"
    assert run.current_rows == 2000 and run.reference_rows == 3000
    by_name = {column["name"]: column for column in run.columns}
    assert set(by_name) == {"income", "age", "region", "prediction"}
    assert by_name["income"]["method"] == "wasserstein"
    assert by_name["region"]["method"] == "jensenshannon"
    assert by_name["income"]["drifted"] is False


def test_shifted_traffic_read_from_partitions_and_hot_rows_flags_the_shifted_columns(company):
    deployment = with_baseline(company.a)
    earlier = timezone.now() - timedelta(minutes=40)
    capture(deployment, 1500, at=earlier, shift=1.5, seed=3, regions=("north", "east"))
    capture(deployment, 500, shift=1.5, seed=4, regions=("north", "east"))
    with tenant_scope(company.a):
        assert (
            capture_compact(
                tenant_id=company.a.pk, older_than=timezone.now() - timedelta(minutes=10)
            ).rows
            == 1500
        )
    run = run_now(deployment)
    assert run.current_rows == 2000
    assert set(run.drifted_columns) == {"income", "region", "prediction"}
    assert run.drift_status == "drift"
    region = next(c for c in run.columns if c["name"] == "region")
    assert region["unseen_categories"] > 0 and "east" in region["unseen_examples"]


def test_an_empty_window_gives_status_unknown_with_a_reason(company):
    deployment = with_baseline(company.a)
    run = run_now(deployment)
    assert run.status == "succeeded"
    assert run.drift_status == "unknown"
    assert "no rows" in run.reason


def test_a_version_without_a_baseline_gives_unknown_and_says_how_to_fix_it(company):
    deployment = make_deployment(company.a)
    capture(deployment, 100)
    run = run_now(deployment)
    assert run.drift_status == "unknown"
    assert "has no baseline yet" in run.reason


def test_a_row_window_and_column_overrides_come_from_the_monitor(company):
    deployment = with_baseline(company.a)
    capture(deployment, 500, seed=9)
    with tenant_scope(company.a):
        monitor = services.monitor_create(
            actor=ACTOR,
            tenant_id=company.a.pk,
            endpoint=deployment.name,
            window="rows",
            window_rows=300,
            column_overrides={"income": {"method": "psi", "threshold": 0.5}},
            alert=False,
        )
    run = run_now(deployment, monitor)
    assert run.current_rows == 300
    income = next(c for c in run.columns if c["name"] == "income")
    assert (income["method"], income["threshold"]) == ("psi", 0.5)


def test_a_second_request_while_a_run_is_open_returns_the_same_run(company):
    deployment = with_baseline(company.a)
    with tenant_scope(company.a):
        first = services.drift_run_request(deployment=deployment)
        second = services.drift_run_request(deployment=deployment)
    assert first.pk == second.pk


def test_a_run_whose_worker_was_lost_fails_and_no_longer_blocks_a_new_one(company):
    deployment = with_baseline(company.a)
    too_long_ago = timezone.now() - services.RUN_ABANDONED_AFTER - timedelta(minutes=1)
    with tenant_scope(company.a):
        run = services.drift_run_request(deployment=deployment)
        DriftRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())
        assert services.drift_run_request(deployment=deployment).pk == run.pk  # still working

        DriftRun.objects.filter(pk=run.pk).update(started_at=too_long_ago)  # its worker died
        fresh = services.drift_run_request(deployment=deployment)
        run.refresh_from_db()
    assert fresh.pk != run.pk and fresh.status == "queued"
    assert run.status == "failed" and "stopped before it finished" in run.reason


def test_a_due_monitor_queues_one_run_per_monitored_revision_once(company):
    deployment = with_baseline(company.a)
    with tenant_scope(company.a):
        monitor = services.monitor_create(
            actor=ACTOR, tenant_id=company.a.pk, endpoint=deployment.name
        )
        assert len(services.monitor_run_due(monitor_id=monitor.pk)) == 1
        assert services.monitor_run_due(monitor_id=monitor.pk) == []
        monitor.refresh_from_db()
        assert monitor.next_run_at > timezone.now() + timedelta(minutes=59)


def test_a_drifting_run_fires_every_action_once_with_signed_webhooks(
    company, settings, monkeypatch, eager_celery, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    deployment = with_baseline(company.a, risk_tier="high")
    sent = []

    def receive(url, *, body, headers):
        sent.append((body, headers))
        return webhooks.Answer(ok=True, status_code=200)

    monkeypatch.setattr(webhooks, "_post", receive)
    with tenant_scope(company.a):
        endpoint = notifications.webhook_endpoint_create(
            actor=ACTOR,
            tenant=company.a,
            url="http://hooks.internal/drift",
            events=[services.DRIFT_EVENT, services.RETRAIN_EVENT],
            created_by=None,
        )
        monitor = services.monitor_create(
            actor=ACTOR,
            tenant_id=company.a.pk,
            endpoint=deployment.name,
            alert_emails=["oncall@example.com"],
            open_incident=True,
            retrain_webhook=True,
        )
    capture(deployment, 1000, shift=2.0, regions=("west",))
    with django_capture_on_commit_callbacks(execute=True):
        run = run_now(deployment, monitor)
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(company.a):
        assert services.drift_actions_fire(run_id=run.pk) == run.actions  # nothing new
    assert run.drift_status == "drift"
    assert run.actions["alert"] == {"webhooks": 1, "emails": 1}
    assert run.actions["retrain"] == {"webhooks": 1}
    alerts = [m for m in mail.outbox if "Drift on credit-prod r1" in m.subject]
    reviews = [m for m in mail.outbox if m.subject.startswith("Approval needed")]
    assert len(alerts) == 1
    assert run.actions["review"]["review"] is not None and len(reviews) == 2  # both leads
    events = sorted(headers["X-Portal-Event"] for _, headers in sent)
    assert events == [services.DRIFT_EVENT, services.RETRAIN_EVENT]
    for body, headers in sent:
        expected = webhooks.sign(
            secret=endpoint.secret,
            delivery_id=headers["X-Portal-Delivery"],
            timestamp=headers["X-Portal-Timestamp"],
            body=body.decode(),
        )
        assert headers["X-Portal-Signature"] == expected
    retrain = next(
        json.loads(b)["data"] for b, h in sent if h["X-Portal-Event"] == services.RETRAIN_EVENT
    )
    assert retrain["model"] == "credit-prod-model" and retrain["version"] == 1
    assert retrain["window"]["kind"] == "hour" and "income" in retrain["drifted_columns"]
    with tenant_scope(company.a):
        assert WebhookDelivery.objects.count() == 2
        titles = sorted(Incident.objects.values_list("title", flat=True))
        assert titles == [
            "Drift on credit-prod r1",
            "High-risk model drifted: review credit-prod r1",
        ]
        assert (
            AuditEvent.objects.filter(
                action="deployment.review_requested", object_id=str(deployment.pk)
            ).count()
            == 1
        )


def test_a_run_without_drift_fires_nothing(company):
    deployment = with_baseline(company.a)
    with tenant_scope(company.a):
        monitor = services.monitor_create(
            actor=ACTOR, tenant_id=company.a.pk, endpoint=deployment.name, open_incident=True
        )
    capture(deployment, 1000, seed=11)
    run = run_now(deployment, monitor)
    assert run.drift_status == "ok" and run.actions == {}
    with tenant_scope(company.a):
        assert not Incident.objects.exists()


def test_a_monitor_refuses_an_unknown_method_with_a_sentence(company):
    deployment = make_deployment(company.a)
    from portal.core.errors import InvalidRequest

    with tenant_scope(company.a), pytest.raises(InvalidRequest, match="unknown method"):
        services.monitor_create(
            actor=ACTOR,
            tenant_id=company.a.pk,
            endpoint=deployment.name,
            column_overrides={"income": {"method": "magic"}},
        )
    with tenant_scope(company.a):
        assert not Monitor.objects.exists()
