"""Decision logs: kept as long as the model's risk tier asks, exported with a manifest, and handed
to the evidence pack."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from governance.models import AuditEvent
from portal.catalog.models import RegisteredModel
from portal.core.api.errors import NOT_FOUND_BODY
from portal.monitoring.capture import CaptureRecord, capture_write_many
from portal.monitoring.evidence import store_location
from portal.monitoring.models import CapturedRequest
from portal.monitoring.store import capture_compact, capture_retention_apply
from portal.monitoring.tests.builders import capture, make_deployment
from tenants.scoping import tenant_scope
from tests.builders import client_for, signed_in

pytestmark = pytest.mark.django_db

AGES = (2, 29, 31, 100, 189, 191, 250)


def export_url(deployment) -> str:
    return f"/api/v1/tenants/acme-retail/deployments/{deployment.pk}/decision-log/"


def page_url(deployment) -> str:
    return f"/t/acme-retail/deployments/{deployment.pk}/decision-log/"


def captured_days_ago(deployment, now: datetime, ages=AGES) -> None:
    for days in ages:
        capture(deployment, 10, at=now - timedelta(days=days), per_request=10, seed=days)


def compact_and_apply_retention(tenant, now: datetime) -> list[str]:
    with tenant_scope(tenant):
        capture_compact(tenant_id=tenant.pk, older_than=now)
        return capture_retention_apply(tenant_id=tenant.pk, now=now)


def last_year(now: datetime) -> dict[str, str]:
    return {"from": (now - timedelta(days=365)).date().isoformat(), "to": now.date().isoformat()}


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(response).decode())))


def ages_in(rows, now: datetime) -> list[int]:
    received = (datetime.fromisoformat(row["__received_at"]) for row in rows)
    return sorted({round((now - moment).total_seconds() / 86400) for moment in received})


def set_tier(deployment, tier: str) -> None:
    with tenant_scope(deployment.tenant_id):
        RegisteredModel.objects.filter(pk=deployment.model_version.model_id).update(risk_tier=tier)


# --- Retention by risk tier -----------------------------------------------------------------------


def test_the_decision_log_export_of_a_high_risk_deployment_holds_190_days_while_a_minimal_one_holds_30(
    company,
):
    high = make_deployment(company.a, name="credit-prod", risk_tier="high")
    minimal = make_deployment(company.a, name="chat-prod", risk_tier="minimal")
    now = timezone.now()
    captured_days_ago(high, now)
    captured_days_ago(minimal, now)

    compact_and_apply_retention(company.a, now)

    ava = client_for(company.ava)
    high_rows = csv_rows(ava.get(export_url(high), {**last_year(now), "format": "csv"}))
    minimal_rows = csv_rows(ava.get(export_url(minimal), {**last_year(now), "format": "csv"}))
    assert ages_in(high_rows, now) == [2, 29, 31, 100, 189]
    assert len(high_rows) == 50
    assert ages_in(minimal_rows, now) == [2, 29]
    assert len(minimal_rows) == 20


def test_a_model_whose_tier_rose_keeps_the_older_logs_still_inside_its_new_retention(company):
    deployment = make_deployment(company.a, risk_tier="minimal")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(40, 200))
    set_tier(deployment, "high")

    removed = compact_and_apply_retention(company.a, now)

    assert len(removed) == 1  # the 200-day-old hour is past even the high-risk retention
    rows = csv_rows(
        client_for(company.ava).get(export_url(deployment), {**last_year(now), "format": "csv"})
    )
    assert ages_in(rows, now) == [40]


def test_the_logs_of_a_model_not_yet_classified_are_kept_as_long_as_the_longest_tier_asks(
    company,
):
    deployment = make_deployment(company.a, risk_tier="")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(100, 200))

    compact_and_apply_retention(company.a, now)

    rows = csv_rows(
        client_for(company.ava).get(export_url(deployment), {**last_year(now), "format": "csv"})
    )
    assert ages_in(rows, now) == [100]


def test_hot_requests_past_their_tiers_retention_are_deleted_too(company):
    high = make_deployment(company.a, name="credit-prod", risk_tier="high")
    minimal = make_deployment(company.a, name="chat-prod", risk_tier="minimal")
    now = timezone.now()
    captured_days_ago(high, now, ages=(100,))
    captured_days_ago(minimal, now, ages=(100,))
    with tenant_scope(company.a):
        capture_retention_apply(tenant_id=company.a.pk, now=now)
        assert set(CapturedRequest.objects.values_list("deployment_id", flat=True)) == {high.pk}


def test_retention_records_in_the_audit_trail_which_hours_of_which_deployment_it_deleted(company):
    deployment = make_deployment(company.a, risk_tier="minimal")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(2, 40, 41))

    compact_and_apply_retention(company.a, now)
    compact_and_apply_retention(company.a, now)  # nothing more to delete: nothing more recorded

    with tenant_scope(company.a):
        [event] = AuditEvent.objects.filter(action="decision_log.expired")
    assert event.object_type == "deployment" and event.object_id == str(deployment.pk)
    assert event.actor_label == "capture retention"
    assert event.after["hours_removed"] == 2
    assert event.after["retention_days"] == 30
    assert event.after["tier"] == "minimal"
    assert event.after["before"] == (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:00:00+00:00")


# --- The export -----------------------------------------------------------------------------------


def test_a_parquet_export_streams_every_row_of_the_range_and_its_manifest_holds_the_hashes(
    company,
):
    deployment = make_deployment(company.a, risk_tier="high")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(1, 2, 3))
    capture(deployment, 5, at=now - timedelta(minutes=1))  # still hot: not in the export yet
    compact_and_apply_retention(company.a, now - timedelta(minutes=5))
    ava = client_for(company.ava)
    params = {**last_year(now), "format": "parquet"}

    response = ava.get(export_url(deployment), params)

    assert response.status_code == 200
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) > 3  # one piece per row group read, never the whole range at once
    data = b"".join(chunks)
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 30
    assert {"__received_at", "income", "age", "region", "prediction"} <= set(table.column_names)
    digest = hashlib.sha256(data).hexdigest()
    assert response["X-Decision-Log-SHA256"] == digest
    assert response["X-Decision-Log-Rows"] == "30"
    assert "attachment" in response["Content-Disposition"]

    manifest = ava.get(export_url(deployment), {**params, "format": "manifest"}).json()
    assert manifest["deployment"]["id"] == deployment.pk
    assert manifest["model"] == {"name": "credit-prod-model", "version": 1, "tier": "high"}
    assert manifest["retention_days"] == 190
    assert manifest["export"] == {
        "format": "parquet",
        "rows": 30,
        "sha256": digest,
        "bytes": len(data),
    }
    assert manifest["not_yet_compacted_rows"] == 5
    assert len(manifest["partitions"]) == 3
    assert sum(part["rows"] for part in manifest["partitions"]) == 30
    for part in manifest["partitions"]:
        assert len(part["sha256"]) == 64 and part["path"].startswith(f"tenant={company.a.pk}/")


def test_a_range_without_traffic_downloads_the_columns_and_no_rows(company):
    deployment = make_deployment(company.a)
    ava = client_for(company.ava)
    params = {"from": "2026-01-01", "to": "2026-01-02"}

    parquet = pq.read_table(io.BytesIO(body(ava.get(export_url(deployment), params))))
    text = body(ava.get(export_url(deployment), {**params, "format": "csv"})).decode()

    assert parquet.num_rows == 0 and "__received_at" in parquet.column_names
    assert text.splitlines() == ["__received_at,__capture_id,__shadow,__latency_ms"]


def test_parts_whose_columns_differ_export_in_one_schema(company):
    deployment = make_deployment(company.a)
    now = timezone.now()
    day = now - timedelta(days=1)
    capture_write_many(
        [
            CaptureRecord(company.a.pk, deployment.pk, day, ["x"], [[1], [2]], [0, 1], 1.0),
            CaptureRecord(
                company.a.pk,
                deployment.pk,
                day + timedelta(hours=1),
                ["x", "note"],
                [[2.5, "late"]],
                [{"label": 1, "score": 0.9}],
                1.0,
            ),
            CaptureRecord(
                company.a.pk, deployment.pk, day + timedelta(hours=2), ["y"], [["a"]], [1], 1.0
            ),
        ]
    )
    compact_and_apply_retention(company.a, now)

    data = body(client_for(company.ava).get(export_url(deployment), last_year(now)))

    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 4
    assert table.column("x").to_pylist() == [1.0, 2.0, 2.5, None]
    assert table.column("note").to_pylist() == [None, None, "late", None]
    assert table.column("prediction.score").to_pylist() == [None, None, 0.9, None]
    assert table.column("y").to_pylist() == [None, None, None, "a"]


def test_every_export_is_audited_with_its_range_format_rows_and_hash(company):
    deployment = make_deployment(company.a)
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(1,))
    compact_and_apply_retention(company.a, now)

    response = client_for(company.ava).get(
        export_url(deployment), {**last_year(now), "format": "csv"}
    )

    data = body(response)
    with tenant_scope(company.a):
        event = AuditEvent.objects.get(action="decision_log.exported")
    assert event.object_type == "deployment" and event.object_id == str(deployment.pk)
    assert event.actor_label == "ava"
    assert event.after["format"] == "csv"
    assert event.after["rows"] == 10
    assert event.after["sha256"] == hashlib.sha256(data).hexdigest()
    assert event.after["from"].startswith(last_year(now)["from"])


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(company):
    deployment = make_deployment(company.a)
    now = timezone.now()
    capture_write_many(
        [
            CaptureRecord(
                company.a.pk,
                deployment.pk,
                now - timedelta(days=1),
                ["income", "region"],
                [[-12.5, "=cmd|' /C calc'!A0"], [3.0, "@SUM(A1)"]],
                ["+1", 0],
                2.0,
            )
        ]
    )
    compact_and_apply_retention(company.a, now)

    rows = csv_rows(
        client_for(company.ava).get(export_url(deployment), {**last_year(now), "format": "csv"})
    )

    assert [row["region"] for row in rows] == ["'=cmd|' /C calc'!A0", "'@SUM(A1)"]
    assert rows[0]["income"] == "-12.5"  # a number stays a number
    assert rows[0]["prediction"] == "'+1"


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"from": "2026-01-01", "to": "2027-06-01"}, "at most 366 days"),
        ({"from": "yesterday", "to": "2026-01-02"}, "from must be a date"),
        ({"from": "2026-01-05", "to": "2026-01-01"}, "must come before"),
        ({"to": "2026-01-01"}, "from must be a date"),
        ({"from": "2026-02-30", "to": "2026-03-02"}, "from must be a date"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "must be real dates"),
        ({"from": "2026-01-01", "to": "2026-01-02", "format": "xlsx"}, "format must be one of"),
    ],
)
def test_a_range_over_the_cap_or_malformed_is_answered_400_with_a_sentence(
    company, params, sentence
):
    deployment = make_deployment(company.a)

    response = client_for(company.ava).get(export_url(deployment), params)

    assert response.status_code == 400
    assert sentence in json.dumps(response.json())
    with tenant_scope(company.a):
        assert not AuditEvent.objects.filter(action="decision_log.exported").exists()


def test_another_tenant_gets_a_404_for_a_deployments_decision_log(company):
    deployment = make_deployment(company.a)
    now = timezone.now()
    params = {**last_year(now), "format": "csv"}
    bob = client_for(company.bob)

    assert bob.get(export_url(deployment), params).json() == NOT_FOUND_BODY
    theirs = f"/api/v1/tenants/bravo-marketing/deployments/{deployment.pk}/decision-log/"
    assert bob.get(theirs, params).json() == NOT_FOUND_BODY
    assert signed_in(company.bob).get(page_url(deployment)).status_code == 404


# --- The page -------------------------------------------------------------------------------------


def test_the_decision_log_page_offers_a_range_and_a_format_and_downloads_the_export(company):
    deployment = make_deployment(company.a, risk_tier="high")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(1,))
    compact_and_apply_retention(company.a, now)
    ava = signed_in(company.ava)

    page = ava.get(page_url(deployment))
    drift_page = ava.get(f"/t/acme-retail/deployments/{deployment.pk}/drift/")

    text = page.content.decode()
    assert 'name="from"' in text and 'name="to"' in text and 'name="format"' in text
    assert "kept 190 days" in text
    assert page_url(deployment) in drift_page.content.decode()
    download = ava.get(page_url(deployment), {**last_year(now), "format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(body(download).decode())))) == 10


def test_the_decision_log_page_says_what_is_wrong_with_a_range(company):
    deployment = make_deployment(company.a)

    page = signed_in(company.ava).get(
        page_url(deployment), {"from": "2020-01-01", "to": "2026-01-01", "format": "csv"}
    )

    assert page.status_code == 400
    assert "at most 366 days" in page.content.decode()


# --- The evidence pack ----------------------------------------------------------------------------


def evidence(client, deployment):
    name = deployment.model_version.model.name
    response = client.get(f"/api/v1/tenants/acme-retail/models/{name}/versions/1/evidence/")
    assert response.status_code == 200, response.content[:300]
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_the_evidence_pack_lists_the_decision_log_manifest(company):
    deployment = make_deployment(company.a, risk_tier="high")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(1, 100))
    compact_and_apply_retention(company.a, now)

    archive = evidence(client_for(company.grace), deployment)

    manifest = json.loads(archive.read("3-record-keeping/decision_logs/manifest.json"))
    assert manifest["model"] == {"name": "credit-prod-model", "version": 1, "tier": "high"}
    assert manifest["retention_days"] == 190
    [logs] = manifest["deployments"]
    assert logs["deployment"]["id"] == deployment.pk
    assert sum(part["rows"] for part in logs["partitions"]) == 20
    assert manifest["data_included"] is True
    for part in logs["partitions"]:
        data = archive.read(part["file"])
        assert hashlib.sha256(data).hexdigest() == part["sha256"]
    assert "3-record-keeping/decision_logs/manifest.json" in archive.read("README.md").decode()
    files = json.loads(archive.read("manifest.json"))["files"]
    assert "3-record-keeping/decision_logs/manifest.json" in files


def test_decision_logs_over_the_size_cap_are_listed_by_hash_and_location_only(company, settings):
    settings.EVIDENCE_DECISION_LOG_MAX_BYTES = 100
    deployment = make_deployment(company.a, risk_tier="high")
    now = timezone.now()
    captured_days_ago(deployment, now, ages=(1,))
    compact_and_apply_retention(company.a, now)

    archive = evidence(client_for(company.grace), deployment)

    manifest = json.loads(archive.read("3-record-keeping/decision_logs/manifest.json"))
    assert manifest["data_included"] is False
    assert "EVIDENCE_DECISION_LOG_MAX_BYTES" in manifest["note"]
    [part] = manifest["deployments"][0]["partitions"]
    assert part["path"].endswith(".parquet") and "file" not in part
    assert not [n for n in archive.namelist() if n.endswith(".parquet")]


def test_the_evidence_pack_names_the_capture_store_without_its_credentials():
    assert (
        store_location("s3://AKIA:s3cr3t@decision-logs/capture?region=eu-west-1")
        == "s3://decision-logs/capture"
    )
    assert store_location("/var/portal/capture") == "/var/portal/capture"
