"""Catalog pages as people see them."""

from __future__ import annotations

import pytest

from portal.catalog.models import SyncRun
from portal.catalog.sync import registry_sync, unassigned_scan
from tenants.scoping import tenant_scope
from tests.builders import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(company, mlflow_server):
    mlflow_server.register("credit-scoring", tenant=company.a.slug, versions=2)
    mlflow_server.register("limit-setting", tenant=company.a.slug)
    with tenant_scope(company.a):
        registry_sync(tenant=company.a)
    return mlflow_server


def test_the_catalog_page_lists_searches_and_shows_the_last_sync(company, synced):
    amir = signed_in(company.amir)
    html = amir.get(f"/t/{company.a.slug}/models/").content.decode()
    assert "credit-scoring" in html and "limit-setting" in html and "Catalog last synced" in html
    filtered = amir.get(f"/t/{company.a.slug}/models/", {"q": "limit"}).content.decode()
    assert "limit-setting" in filtered and "credit-scoring" not in filtered


def test_an_engineer_fills_in_the_catalog_entry_and_a_viewer_only_reads_it(company, synced):
    url = f"/t/{company.a.slug}/models/credit-scoring/"
    saved = signed_in(company.amir).post(
        url,
        {"owner": "Amir", "use_case": "Credit decisions", "intended_use": "", "limitations": ""},
        follow=True,
    )
    assert "Catalog entry saved." in saved.content.decode()
    viewer_html = signed_in(company.ava).get(url).content.decode()
    assert "Credit decisions" in viewer_html and "Save catalog entry" not in viewer_html
    assert signed_in(company.ava).post(url, {"owner": "Ava"}).status_code == 403


def test_the_version_page_shows_lineage_signature_and_metrics(company, synced):
    html = (
        signed_in(company.ava)
        .get(f"/t/{company.a.slug}/models/credit-scoring/versions/1/")
        .content.decode()
    )
    for text in (
        "credit-train",
        "s3://credit-data/train.parquet",
        "debt_ratio",
        "accuracy",
        "Digest (first seen)",
    ):
        assert text in html


def test_another_units_model_page_is_not_found(company, synced):
    assert (
        signed_in(company.bob).get(f"/t/{company.a.slug}/models/credit-scoring/").status_code == 404
    )
    assert (
        signed_in(company.bob).get(f"/t/{company.b.slug}/models/credit-scoring/").status_code == 404
    )


def test_the_sync_page_shows_runs_and_offers_sync_now_only_to_those_who_may(company, synced):
    engineer = signed_in(company.amir).get(f"/t/{company.a.slug}/sync/").content.decode()
    assert "succeeded" in engineer and "Sync now" in engineer
    assert (
        "Sync now" not in signed_in(company.ava).get(f"/t/{company.a.slug}/sync/").content.decode()
    )


def test_platform_admins_assign_unassigned_models_on_a_page(company, mlflow_server):
    mlflow_server.register("orphan", tenant=None)
    unassigned_scan()
    admin = signed_in(company.adam)
    assert "orphan" in admin.get("/catalog/unassigned/").content.decode()
    done = admin.post(
        "/catalog/unassigned/orphan/assign/", {"tenant": company.b.pk}, follow=True
    ).content.decode()
    assert "now belongs to Bravo Marketing" in done
    assert signed_in(company.alice).get("/catalog/unassigned/").status_code == 403


@pytest.mark.django_db
def test_a_running_sync_is_followed_in_place_instead_of_reloading_the_whole_page(company):
    with tenant_scope(company.a):
        running = SyncRun.objects.create(tenant=company.a, trigger="page", models_seen=3)
    url = f"/t/{company.a.slug}/sync/"
    html = signed_in(company.amir).get(url).content.decode()
    assert f'id="sync-status" hx-get="{url}" hx-trigger="every 3s"' in html
    assert '<progress id="sync-progress">' in html
    assert "/static/portal/htmx.min.js" in html
    assert '<noscript><meta http-equiv="refresh"' in html
    assert html.count('http-equiv="refresh"') == 1

    with tenant_scope(company.a):
        SyncRun.objects.filter(pk=running.pk).update(status="succeeded")
    done = signed_in(company.amir).get(url).content.decode()
    assert "hx-trigger" not in done and 'http-equiv="refresh"' not in done


def test_platform_admins_search_and_page_through_many_unassigned_models(company):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.catalog.models import UnassignedModel

    UnassignedModel.objects.bulk_create(
        UnassignedModel(name=f"stray-{n:02}", mlflow_tags={"team": "risk" if n % 10 else "fraud"})
        for n in range(60)
    )
    admin = signed_in(company.adam)
    with CaptureQueriesContext(connection) as first_page:
        html = admin.get("/catalog/unassigned/").content.decode()
    assert "stray-00" in html and "stray-24" in html and "stray-25" not in html
    assert "Page 1 of 3 (60 in all)" in html and 'role="search"' in html
    assert len(first_page.captured_queries) < 15, "one query for the units, not one per row"

    second = admin.get("/catalog/unassigned/", {"page": 2}).content.decode()
    assert "stray-25" in second and "stray-00" not in second

    by_tag = admin.get("/catalog/unassigned/", {"q": "fraud"}).content.decode()
    assert by_tag.count('class="small">Assign<') == 6 and "stray-10" in by_tag
    by_name = admin.get("/catalog/unassigned/", {"q": "STRAY-4"}).content.decode()
    assert by_name.count('class="small">Assign<') == 10
    none = admin.get("/catalog/unassigned/", {"q": "nothing-like-it"}).content.decode()
    assert "No unassigned model matches" in none and "show all 60" in none


def test_the_catalog_search_says_next_to_the_field_what_is_wrong(company):
    html = (
        signed_in(company.amir)
        .get(f"/t/{company.a.slug}/models/", {"risk_tier": "enormous"})
        .content.decode()
    )
    assert 'aria-invalid="true"' in html and "Select a valid choice" in html
    assert 'role="search"' in html and ">Clear<" in html


def test_a_queued_sync_is_followed_on_the_page_until_a_worker_starts_it(company):
    from datetime import timedelta

    from django.utils import timezone

    from portal.core.queued import queued_address

    engineer = signed_in(company.amir)
    asked = engineer.post(f"/t/{company.a.slug}/sync/now/")
    assert asked.status_code == 302 and "?queued=" in asked["Location"]

    waiting = engineer.get(asked["Location"]).content.decode()
    assert "The sync is queued" in waiting and 'hx-trigger="every 3s"' in waiting

    with tenant_scope(company.a):
        SyncRun.objects.create(tenant=company.a, trigger="page", deep=True, models_seen=2)
    started = engineer.get(asked["Location"]).content.decode()
    assert "The sync is queued" not in started and "A sync is running" in started

    long_ago = timezone.now() - timedelta(minutes=10)
    with tenant_scope(company.a):
        SyncRun.objects.update(status="succeeded", started_at=long_ago - timedelta(minutes=1))
    stalled = engineer.get(queued_address(f"/t/{company.a.slug}/sync/", now=long_ago)).content
    assert "has not started: no worker has taken it yet" in stalled.decode()
    assert b"hx-trigger" not in stalled

    forged = engineer.get(f"/t/{company.a.slug}/sync/", {"queued": "99999999999999"}).content
    assert b"queued" not in forged.split(b'id="sync-status"')[1]
