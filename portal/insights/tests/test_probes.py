"""Each question the portal answers, from the unit's own data: no evidence, then evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import ApprovalRequest, ModelCertification, PolicyVersion
from governance.services.cards import card_get_or_create, card_update
from governance.tests.builders import classify, make_version
from portal.catalog.models import ModelVersion, RegisteredModel, SyncRun
from portal.deployments.models import GatewayMinute
from portal.insights import probes
from portal.insights.tests.builders import deploy, monitor, rollback
from portal.monitoring.models import Monitor
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR

pytestmark = pytest.mark.django_db


def answer(tenant, probe):
    with tenant_scope(tenant):
        return probe(tenant)


def test_experiment_tracking_is_yes_once_a_version_links_to_its_mlflow_run(company):
    assert answer(company.a, probes.experiment_tracking).answer is False
    make_version(company.a)
    found = answer(company.a, probes.experiment_tracking)
    assert found.answer is True and "1 version of 1 model" in found.evidence
    assert found.link == f"/t/{company.a.slug}/models/"


def test_every_model_needs_a_version_with_metrics(company):
    make_version(company.a, "churn")
    make_version(company.a, "fraud", metrics={})
    found = answer(company.a, probes.versions_with_metrics)
    assert found.answer is False and "1 of 2 models" in found.evidence
    make_version(company.a, "fraud", 2)
    assert answer(company.a, probes.versions_with_metrics).answer is True


def test_datasets_are_identified_when_each_models_newest_version_logs_one(company):
    make_version(company.a, "churn")
    with tenant_scope(company.a):
        ModelVersion.objects.create(
            tenant=company.a, model=RegisteredModel.objects.get(name="churn"), version=2
        )
    assert answer(company.a, probes.datasets_identified).answer is False
    make_version(company.a, "churn", 3)
    assert answer(company.a, probes.datasets_identified).answer is True


def test_production_models_need_an_intended_use_or_a_model_card(company):
    version = make_version(company.a)
    assert answer(company.a, probes.production_documented).evidence.startswith("No model is live")
    deploy(company.a, version)
    assert answer(company.a, probes.production_documented).answer is False
    with tenant_scope(company.a):
        card = card_get_or_create(actor=TEST_ACTOR, version=version)
        card_update(actor=TEST_ACTOR, card=card, editor=None, purpose="Scores credit applications.")
    assert answer(company.a, probes.production_documented).answer is True


def test_the_registry_question_counts_the_catalog_and_its_last_sync(company):
    assert answer(company.a, probes.central_registry).answer is False
    make_version(company.a)
    with tenant_scope(company.a):
        SyncRun.objects.create(tenant=company.a, status="succeeded", finished_at=timezone.now())
    found = answer(company.a, probes.central_registry)
    assert found.answer is True and "last synced" in found.evidence


def test_staging_is_automated_when_a_staging_revision_went_live_on_the_policys_approval(company):
    version = make_version(company.a)
    deploy(company.a, version, environment="staging", outcome="require_approvals")
    assert answer(company.a, probes.staging_automated).answer is False
    deploy(company.a, version, name="churn-2", environment="staging", outcome="allow")
    assert answer(company.a, probes.staging_automated).answer is True


def test_production_metrics_come_from_the_gateways_minutes(company):
    version = make_version(company.a)
    live = deploy(company.a, version)
    assert answer(company.a, probes.production_metrics).answer is False
    with tenant_scope(company.a):
        GatewayMinute.objects.create(
            tenant=company.a, deployment=live, minute=timezone.now(), requests=12
        )
    found = answer(company.a, probes.production_metrics)
    assert found.answer is True and "12 requests" in found.evidence


def test_drift_is_monitored_when_every_live_deployment_has_an_active_monitor(company):
    version = make_version(company.a)
    assert answer(company.a, probes.drift_monitored).answer is False
    deploy(company.a, version, name="churn")
    deploy(company.a, version, name="fraud")
    monitor(company.a, "churn")
    monitor(company.a, "fraud", enabled=False)
    found = answer(company.a, probes.drift_monitored)
    assert found.answer is False and "not watched: fraud" in found.evidence
    with tenant_scope(company.a):
        Monitor.objects.filter(endpoint="fraud").update(enabled=True)
    assert answer(company.a, probes.drift_monitored).answer is True


def test_retraining_is_yes_with_a_retraining_webhook_and_left_to_the_owner_without(company):
    monitor(company.a, "churn")
    assert answer(company.a, probes.retraining).answer is None
    monitor(company.a, "fraud", retrain_webhook=True)
    assert answer(company.a, probes.retraining).answer is True


def test_rollback_under_30_minutes_needs_a_measured_rollback(company):
    version = make_version(company.a)
    assert answer(company.a, probes.rollback_fast).answer is False
    newest = deploy(company.a, version, revision=2, state="rolled_back")
    rollback(company.a, newest, to_revision=1, took=timedelta(seconds=4))
    found = answer(company.a, probes.rollback_fast)
    assert found.answer is True
    assert "churn r2 to r1" in found.evidence and "4.0 s" in found.evidence


def test_a_rollback_that_took_longer_than_30_minutes_is_a_no(company):
    version = make_version(company.a)
    newest = deploy(company.a, version, revision=2, state="rolled_back")
    rollback(company.a, newest, to_revision=1, took=timedelta(minutes=45))
    found = answer(company.a, probes.rollback_fast)
    assert found.answer is False and "45.0 min" in found.evidence


def _approval(tenant, deployment, state):
    policy = PolicyVersion.objects.create(
        name="default", version=1, document="rules: []", content_hash="x", source="test"
    )
    with tenant_scope(tenant):
        return ApprovalRequest.objects.create(
            tenant=tenant,
            deployment=deployment,
            model_version=deployment.model_version,
            policy_version=policy,
            risk_tier="high",
            state=state,
            requested_by_label="amir",
            expires_at=timezone.now() + timedelta(days=7),
        )


def test_high_risk_approval_is_left_to_the_owner_until_one_was_decided(company):
    version = make_version(company.a)
    classify(company.a, version, "high")
    assert answer(company.a, probes.high_risk_approvals).answer is None
    live = deploy(company.a, version)
    assert answer(company.a, probes.high_risk_approvals).answer is False
    _approval(company.a, live, "approved")
    assert answer(company.a, probes.high_risk_approvals).answer is True


def test_a_shadow_revision_counts_as_automated_model_tests(company):
    version = make_version(company.a)
    assert answer(company.a, probes.shadow_tests).answer is None
    deploy(company.a, version, name="churn-shadow", shadow=True)
    assert answer(company.a, probes.shadow_tests).answer is True


def test_production_without_people_needs_a_production_revision_live_on_the_policy_alone(company):
    version = make_version(company.a)
    deploy(company.a, version, outcome="require_approvals")
    assert answer(company.a, probes.production_hands_off).answer is False
    deploy(company.a, version, name="churn-auto", outcome="allow")
    assert answer(company.a, probes.production_hands_off).answer is True


def test_ai_act_alignment_needs_every_model_classified_and_no_overdue_recertification(company):
    version = make_version(company.a)
    assert answer(company.a, probes.ai_act_governance).answer is False
    classify(company.a, version, "high")
    assert answer(company.a, probes.ai_act_governance).answer is True
    with tenant_scope(company.a):
        ModelCertification.objects.create(
            tenant=company.a,
            model=version.model,
            certified_at=timezone.now() - timedelta(days=400),
            due_at=timezone.now() - timedelta(days=35),
            state="overdue",
        )
    found = answer(company.a, probes.ai_act_governance)
    assert found.answer is False and "1 re-certification overdue" in found.evidence


def test_probes_see_only_their_own_unit(company):
    version = make_version(company.b)
    deploy(company.b, version, environment="staging", outcome="allow")
    assert answer(company.a, probes.experiment_tracking).answer is False
    assert answer(company.a, probes.staging_automated).answer is False
