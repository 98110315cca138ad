"""A real Celery worker on Redis: tasks run after commit, and never for a rolled-back transaction."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db import transaction

from governance.models import AuditVerification
from governance.tasks import verify_audit_trail
from tests.processes import CeleryWorker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A worker process on the test database and the test broker, stopped after the test."""
    from portal.celery import app

    app.control.purge()
    worker = CeleryWorker(tmp_path / "worker.log", broker_url=settings.CELERY_BROKER_URL).start()
    yield worker
    worker.stop()


def test_a_task_enqueued_inside_a_rolled_back_transaction_never_runs(worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        verify_audit_trail.delay_on_commit()
        raise RuntimeError("the request fails; nothing it enqueued may run")

    with transaction.atomic():
        verify_audit_trail.delay_on_commit()
        assert AuditVerification.objects.count() == 0  # not sent before the commit

    assert wait_for(
        lambda: AuditVerification.objects.filter(finished_at__isnull=False).exists(), seconds=60
    ), f"the worker did not run the task:\n{worker.output()}"
    # The worker runs one task at a time in queue order: had the first been sent, it would be done.
    time.sleep(1)
    verification = AuditVerification.objects.get()
    assert verification.ok
