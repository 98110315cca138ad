from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.core.audit import Actor
from portal.monitoring import services, tasks
from portal.monitoring.models import CapturedRequest, DriftRun
from portal.monitoring.tests.builders import capture, make_deployment, with_baseline
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def test_the_compaction_task_moves_old_rows_of_every_tenant(company, eager_celery):
    mine, theirs = make_deployment(company.a), make_deployment(company.b)
    capture(mine, 100, at=timezone.now() - timedelta(hours=2))
    capture(theirs, 100, at=timezone.now() - timedelta(hours=2))
    assert tasks.compact_captures() == 2
    for tenant in (company.a, company.b):
        with tenant_scope(tenant):
            assert not CapturedRequest.objects.exists()


def test_the_beat_task_queues_due_monitors_and_the_run_task_is_safe_to_run_twice(
    company, django_capture_on_commit_callbacks
):
    deployment = with_baseline(company.a)
    capture(deployment, 500)
    with tenant_scope(company.a):
        services.monitor_create(
            actor=Actor.system("test"), tenant_id=company.a.pk, endpoint=deployment.name
        )
    with django_capture_on_commit_callbacks() as queued:
        assert tasks.run_due_monitors() == 1
    assert len(queued) == 1
    with tenant_scope(company.a):
        run = DriftRun.objects.get()
    assert tasks.execute_drift_run(tenant_id=company.a.pk, run_id=run.pk) == "succeeded"
    assert tasks.execute_drift_run(tenant_id=company.a.pk, run_id=run.pk) == "succeeded"
    with tenant_scope(company.a):
        assert DriftRun.objects.get().current_rows == 500
    assert tasks.run_due_monitors() == 0


def test_a_baseline_build_that_cannot_read_its_dataset_leaves_a_visible_failure(company):
    deployment = make_deployment(company.a)
    with tenant_scope(company.a):
        version = deployment.model_version
        version.datasets = [{"name": "t", "source": "s3://bucket/train.parquet"}]
        version.save()
    assert (
        tasks.build_baseline(tenant_id=company.a.pk, source="dataset", version_id=version.pk)
        == "failed"
    )
    with tenant_scope(company.a):
        baseline = version.baselines.get()
    assert baseline.status == "failed" and "upload the training data" in baseline.error
