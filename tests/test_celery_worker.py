"""A real Celery worker on Redis: tasks run after commit, and never for a rolled-back transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import transaction

from conftest import ROOT_DIR
from governance.models import AuditVerification
from governance.tasks import verify_audit_trail

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def worker(transactional_db):
    """A worker process on the test database and the test broker, stopped after the test."""
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    from portal.celery import app

    app.control.purge()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()


def wait_for(predicate, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_task_enqueued_inside_a_rolled_back_transaction_never_runs(worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        verify_audit_trail.delay_on_commit()
        raise RuntimeError("the request fails; nothing it enqueued may run")

    with transaction.atomic():
        verify_audit_trail.delay_on_commit()
        assert AuditVerification.objects.count() == 0  # not sent before the commit

    assert wait_for(
        lambda: AuditVerification.objects.filter(finished_at__isnull=False).exists(), seconds=60
    ), (
        worker.stdout.read1().decode()
        if worker.poll() is not None
        else "the worker did not run the task"
    )
    # The worker runs one task at a time in queue order: had the first been sent, it would be done.
    time.sleep(1)
    verification = AuditVerification.objects.get()
    assert verification.ok
