"""MLflow down or slow: the catalog pages answer at once and say when the catalog last synced.

Pages read the portal's own copy of the registry; only the sync talks to MLflow, within
``MLFLOW_TIMEOUT_SECONDS``. A sync that fails says why on the pages, next to the last good one.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from portal.catalog import sync
from portal.catalog.mlflow_adapter import MlflowUnavailable
from portal.catalog.models import SyncRun, SyncStatus
from tenants.scoping import tenant_scope
from tests.processes import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAGE_WITHIN = 1.0  # seconds
MLFLOW_TIMEOUT = 2  # seconds, for the slow MLflow (MLFLOW_TIMEOUT_SECONDS sets it in production)


@pytest.fixture
def last_good_sync(company, fake_mlflow, settings) -> SyncRun:
    settings.MLFLOW_TRACKING_URI = fake_mlflow.url
    with tenant_scope(company.a):
        run = sync.registry_sync(tenant=company.a, trigger="schedule")
    assert run is not None and run.status == SyncStatus.SUCCEEDED
    pages_of(company)  # the first request of a process compiles templates and imports views
    return run


def pages_of(company) -> dict[str, tuple[int, str, float]]:
    """The catalog and its sync status as Alice sees them: status, HTML and seconds taken."""
    browser = Client()
    browser.force_login(company.alice)
    seen = {}
    for url in (f"/t/{company.a.slug}/models/", f"/t/{company.a.slug}/sync/"):
        started = time.monotonic()
        response = browser.get(url)
        seen[url] = (response.status_code, response.content.decode(), time.monotonic() - started)
    return seen


def shown(run: SyncRun) -> str:
    return timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M")


def test_with_mlflow_down_the_catalog_answers_at_once_with_the_last_sync_time(
    company, last_good_sync, settings
):
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with tenant_scope(company.a), pytest.raises(MlflowUnavailable):
        sync.registry_sync(tenant=company.a, trigger="schedule")
    assert time.monotonic() - started < 5, "the sync did not give up on a closed port at once"

    for url, (status, html, took) in pages_of(company).items():
        assert status == 200, url
        assert took < PAGE_WITHIN, f"{url} took {took:.2f} s"
        assert shown(last_good_sync) in html, f"{url} does not show the last sync time"
        assert "MLflow could not list registered models" in html, f"{url} hides the failure"


def test_with_mlflow_slow_the_catalog_answers_at_once_while_a_sync_waits_on_it(
    company, last_good_sync, fake_mlflow, monkeypatch
):
    fake_mlflow.delay = 30  # far beyond the timeout
    fake_mlflow.request_arrived.clear()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", str(MLFLOW_TIMEOUT))  # read per request
    outcome: dict[str, object] = {}

    def sync_in_a_worker() -> None:
        started = time.monotonic()
        try:
            with tenant_scope(company.a):
                sync.registry_sync(tenant=company.a, trigger="schedule")
        except MlflowUnavailable as error:
            outcome["error"] = error
        finally:
            outcome["took"] = time.monotonic() - started
            connection.close()

    worker = threading.Thread(target=sync_in_a_worker, daemon=True)
    worker.start()
    assert fake_mlflow.request_arrived.wait(timeout=10), "the sync never called MLflow"

    for url, (status, html, took) in pages_of(company).items():
        assert status == 200, url
        assert took < PAGE_WITHIN, f"{url} took {took:.2f} s while MLflow was slow"
        assert shown(last_good_sync) in html, f"{url} does not show the last sync time"
    assert "A sync is running" in pages_of(company)[f"/t/{company.a.slug}/sync/"][1]

    worker.join(timeout=MLFLOW_TIMEOUT + 10)
    assert not worker.is_alive(), "the sync kept waiting on MLflow past its timeout"
    assert isinstance(outcome.get("error"), MlflowUnavailable)
    assert outcome["took"] < MLFLOW_TIMEOUT + 3
    with tenant_scope(company.a):
        failed = SyncRun.objects.order_by("-started_at").first()
    assert failed is not None and failed.status == SyncStatus.FAILED
