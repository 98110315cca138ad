"""A target that is slow to answer (KServe's API, SageMaker's) never holds a transaction or the
revision's row: the rollout asks it with no transaction open."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import OperationalError, connections, transaction

from governance.tests.builders import classify, make_version, request
from portal.deployments import rollout
from portal.deployments.models import Deployment
from tenants.scoping import tenant_scope
from tests.slow_peers import sessions_in_a_transaction

pytestmark = pytest.mark.postgres


class SlowTarget:
    """A target whose every answer waits until the test releases it."""

    def __init__(self) -> None:
        self.asked, self.release = threading.Event(), threading.Event()

    def _slowly(self, reply: dict[str, Any]) -> dict[str, Any]:
        self.asked.set()
        self.release.wait(timeout=30)
        return reply

    def create_deployment(self, name: str, model_uri: str, **kwargs: Any) -> dict[str, Any]:
        return self._slowly({"name": name, "state": "pending", "message": "Starting."})

    def get_deployment(self, name: str) -> dict[str, Any]:
        return self._slowly({"name": name, "state": "ready", "message": "Serving."})


@pytest.fixture
def slow_target(monkeypatch) -> SlowTarget:
    target = SlowTarget()
    monkeypatch.setattr(rollout, "get_target", lambda kind, **options: target)
    monkeypatch.setattr("portal.core.outbox.publish_or_keep", lambda *args: None)  # the test drives
    return target


def in_thread(function, **kwargs) -> threading.Thread:
    def run() -> None:
        try:
            function(**kwargs)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def row_locks_at_once(deployment_id: int) -> bool:
    try:
        with transaction.atomic():
            query = Deployment.objects.select_for_update(nowait=True).filter(pk=deployment_id)
            return query.exists()
    except OperationalError:  # "could not obtain lock": someone holds the row
        return False


@pytest.mark.parametrize("step", ["rollout_start", "rollout_advance"])
def test_a_slow_target_holds_no_transaction_and_no_lock_on_the_revision(
    transactional_db, company, slow_target, step
):
    version = make_version(company.a, version=1)
    classify(company.a, version, "minimal")
    deployment = request(company.a, version, company.amir, environment="staging")
    if step == "rollout_advance":
        slow_target.release.set()
        rollout.rollout_start(tenant_id=company.a.pk, deployment_id=deployment.pk)
        slow_target.asked.clear()
        slow_target.release.clear()

    thread = in_thread(getattr(rollout, step), tenant_id=company.a.pk, deployment_id=deployment.pk)
    try:
        assert slow_target.asked.wait(timeout=30), "the target was never asked"
        assert sessions_in_a_transaction() == []
        with tenant_scope(company.a):
            assert row_locks_at_once(deployment.pk)
    finally:
        slow_target.release.set()
        thread.join(timeout=30)

    with tenant_scope(company.a):
        deployment.refresh_from_db()
    expected = "deploying" if step == "rollout_start" else "live"
    assert deployment.state == expected
    assert deployment.serving["target_name"] == "acme-retail-credit-scorer-staging-r1"
