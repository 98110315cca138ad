"""Monitoring by construction: a revision whose request asked for drift monitoring goes live with a
real monitor on its endpoint and a baseline for its version, and the monitor's first run happens."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from governance.tests.builders import classify, make_version, request
from portal.deployments.tests.builders import pretend_ready
from portal.monitoring import services, tasks
from portal.monitoring.models import Baseline, DriftRun, Monitor, MonitorSpan
from portal.monitoring.tests.builders import SIGNATURE, capture, training_csv
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def staging_version(tenant, *, dataset: str = "s3://credit-data/train.csv", version: int = 1):
    """A minimal-risk version (it goes to staging without review) whose run logged ``dataset``."""
    found = make_version(tenant, version=version)
    with tenant_scope(tenant):
        found.signature = SIGNATURE
        found.datasets = [{"name": "credit-train", "source": dataset, "context": "training"}]
        found.save()
    classify(tenant, found, "minimal")
    return found


def go_live(company, version, django_capture_on_commit_callbacks, **extra):
    deployment = request(company.a, version, company.amir, environment="staging", **extra)
    assert deployment.state == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        return pretend_ready(company.a, deployment.pk)


def run_due_monitors(django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return tasks.run_due_monitors()


def test_a_request_with_the_drift_option_gets_a_monitor_whose_first_run_happens(
    company, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.BASELINE_DATASET_ROOTS = [str(tmp_path)]
    (tmp_path / company.a.slug).mkdir()
    (tmp_path / company.a.slug / "train.csv").write_bytes(training_csv(2000))
    version = staging_version(company.a, dataset=str(tmp_path / company.a.slug / "train.csv"))

    live = go_live(company, version, django_capture_on_commit_callbacks)

    assert live.state == "live" and live.drift_monitor
    with tenant_scope(company.a):
        monitor = Monitor.objects.get(endpoint=live.name)
        assert monitor.enabled
        assert Baseline.objects.get(model_version=version).source == "dataset"
        created = AuditEvent.objects.get(action="monitor.created")
    assert created.after["reason"] == "the request asked for drift monitoring"
    capture(live, 500)

    assert run_due_monitors(django_capture_on_commit_callbacks) == 1

    with tenant_scope(company.a):
        run = DriftRun.objects.get(monitor=monitor)
    assert (run.status, run.drift_status, run.current_rows) == ("succeeded", "ok", 500)


def test_a_request_without_the_drift_option_gets_no_monitor(
    company, django_capture_on_commit_callbacks
):
    live = go_live(
        company, staging_version(company.a), django_capture_on_commit_callbacks, drift_monitor=False
    )

    assert live.state == "live"
    with tenant_scope(company.a):
        assert not Monitor.objects.exists()


def test_an_endpoint_keeps_its_one_monitor_when_its_next_revision_goes_live(
    company, django_capture_on_commit_callbacks
):
    go_live(company, staging_version(company.a), django_capture_on_commit_callbacks)
    second = go_live(
        company, staging_version(company.a, version=2), django_capture_on_commit_callbacks
    )

    assert second.revision == 2
    with tenant_scope(company.a):
        assert Monitor.objects.filter(endpoint=second.name).count() == 1
        assert AuditEvent.objects.filter(action="monitor.created").count() == 1


def test_without_a_readable_dataset_the_baseline_comes_from_the_first_captured_rows(
    company, settings, django_capture_on_commit_callbacks
):
    settings.BASELINE_FROM_CAPTURE_ROWS = 300
    live = go_live(company, staging_version(company.a), django_capture_on_commit_callbacks)
    capture(live, 100)

    assert run_due_monitors(django_capture_on_commit_callbacks) == 1

    with tenant_scope(company.a):
        first = DriftRun.objects.get()
        assert not Baseline.objects.exists()
        Monitor.objects.update(next_run_at=first.created_at)  # an hour on: the next run is due
    assert first.drift_status == "unknown"
    assert "100 of the 300 captured rows" in first.reason
    capture(live, 400, seed=1)

    assert run_due_monitors(django_capture_on_commit_callbacks) == 1

    with tenant_scope(company.a):
        baseline = Baseline.objects.get(model_version=live.model_version)
        second = DriftRun.objects.exclude(pk=first.pk).get()
    assert (baseline.source, baseline.rows) == ("capture", 300)
    assert (second.status, second.baseline_id) == ("succeeded", baseline.pk)
    assert second.drift_status in ("ok", "warning")


def test_a_monitor_records_when_it_was_enabled_for_the_monitoring_charge(
    company, django_capture_on_commit_callbacks
):
    live = go_live(company, staging_version(company.a), django_capture_on_commit_callbacks)
    with tenant_scope(company.a):
        monitor = Monitor.objects.get(endpoint=live.name)
        services.monitor_update(actor=TEST_ACTOR, monitor=monitor, enabled=False)
        services.monitor_update(actor=TEST_ACTOR, monitor=monitor, enabled=True)
        spans = list(MonitorSpan.objects.filter(monitor=monitor))

    assert len(spans) == 2
    assert spans[0].ended_at is not None and spans[0].ended_at <= spans[1].started_at
    assert spans[1].ended_at is None and spans[1].endpoint == live.name
