from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from portal.monitoring.capture import CaptureRecord, capture_write_many
from portal.monitoring.models import CapturedRequest, DriftRun, RunStatus
from portal.monitoring.store import (
    CaptureWindow,
    WindowSpec,
    capture_compact,
    capture_retention_apply,
    capture_window_sample,
)
from portal.monitoring.tests.builders import capture, make_deployment
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=False)

HOUR = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _rows(window) -> int:
    return sum(chunk.num_rows if hasattr(chunk, "num_rows") else len(chunk) for chunk in window)


def test_the_gateway_writes_many_requests_of_several_tenants_in_one_call(company):
    mine, theirs = make_deployment(company.a), make_deployment(company.b)
    stored = capture_write_many(
        [
            CaptureRecord(company.a.pk, mine.pk, HOUR, ["x"], [[1.0], [2.0]], [0, 1], 2.0),
            CaptureRecord(company.b.pk, theirs.pk, HOUR, ["x"], [[3.0]], [1], 1.0, shadow=True),
        ]
    )
    assert stored == 3
    with tenant_scope(company.a):
        assert CapturedRequest.objects.get().rows == [[1.0], [2.0]]
    with tenant_scope(company.b):
        assert CapturedRequest.objects.get().shadow is True


def test_values_json_cannot_hold_are_stored_as_text_instead_of_failing(company):
    deployment = make_deployment(company.a)
    stored = capture_write_many(
        [
            CaptureRecord(
                company.a.pk,
                deployment.pk,
                HOUR,
                ["amount", "when", "score", "note", "short"],
                [[Decimal("1.5"), HOUR, math.nan, "a\x00b"], [np.float32(2.5), None, math.inf]],
                [np.int64(1)],
                float("nan"),
            )
        ]
    )
    assert stored == 2
    with tenant_scope(company.a):
        row = CapturedRequest.objects.get()
    assert row.rows[0] == ["1.5", HOUR.isoformat(), None, "ab", None]
    assert row.rows[1] == [2.5, None, None, None, None]
    assert row.predictions == [1, None]
    assert row.latency_ms == 0.0


def test_a_request_of_a_deployment_that_no_longer_exists_does_not_lose_the_others(company):
    deployment = make_deployment(company.a)
    stored = capture_write_many(
        [
            CaptureRecord(company.a.pk, 999_999, HOUR, ["x"], [[1]], [1], 1.0),
            CaptureRecord(company.a.pk, deployment.pk, HOUR, ["x"], [[2]], [0], 1.0),
        ]
    )
    assert stored == 1


def test_compaction_moves_old_rows_to_hourly_parquet_partitions_and_deletes_them(
    company, capture_store
):
    deployment = make_deployment(company.a)
    capture(deployment, 300, at=HOUR + timedelta(minutes=5))
    capture(deployment, 200, at=HOUR + timedelta(hours=1, minutes=5), seed=1)
    capture(deployment, 100, at=timezone.now(), seed=2)
    with tenant_scope(company.a):
        result = capture_compact(
            tenant_id=company.a.pk, older_than=timezone.now() - timedelta(minutes=10)
        )
        assert CapturedRequest.objects.count() == 2  # the recent 100 rows stay hot
    assert result.rows == 500
    base = capture_store / f"tenant={company.a.pk}" / f"deployment={deployment.pk}"
    first = list((base / "hour=2025-03-01T10").glob("part-*.parquet"))
    second = list((base / "hour=2025-03-01T11").glob("part-*.parquet"))
    assert len(first) == len(second) == 1
    table = pq.read_table(first[0])
    assert table.num_rows == 300
    assert {"income", "age", "region", "prediction", "__received_at"} <= set(table.column_names)
    assert str(table.schema.field("income").type) == "double"


def test_compacting_twice_stores_every_row_once(company, capture_store):
    deployment = make_deployment(company.a)
    capture(deployment, 300, at=HOUR)
    cutoff = timezone.now() - timedelta(minutes=10)
    with tenant_scope(company.a):
        capture_compact(tenant_id=company.a.pk, older_than=cutoff)
        again = capture_compact(tenant_id=company.a.pk, older_than=cutoff)
        window = CaptureWindow(WindowSpec(deployment.pk, company.a.pk))
        assert _rows(window) == 300
    assert again.rows == 0


def test_a_part_written_by_a_run_that_never_committed_is_replaced_not_duplicated(
    company, capture_store, monkeypatch
):
    deployment = make_deployment(company.a)
    capture(deployment, 200, at=HOUR)
    cutoff = timezone.now() - timedelta(minutes=10)
    with tenant_scope(company.a):
        original = CapturedRequest.objects.filter
        # The first run writes its part, then fails before deleting the hot rows.
        from portal.monitoring import store

        def fail_on_delete(*args, **kwargs):
            query = original(*args, **kwargs)
            if "pk__in" in kwargs:
                raise RuntimeError("database went away")
            return query

        monkeypatch.setattr(store.CapturedRequest.objects, "filter", fail_on_delete)
        with pytest.raises(RuntimeError):
            capture_compact(tenant_id=company.a.pk, older_than=cutoff)
        monkeypatch.undo()
        assert CapturedRequest.objects.count() == 4
        result = capture_compact(tenant_id=company.a.pk, older_than=cutoff)
        assert len(result.replaced) == 1
        assert _rows(CaptureWindow(WindowSpec(deployment.pk, company.a.pk))) == 200


def test_a_deployment_with_a_drift_run_in_progress_is_compacted_later(company):
    deployment = make_deployment(company.a)
    capture(deployment, 100, at=HOUR)
    with tenant_scope(company.a):
        DriftRun.objects.create(tenant=company.a, deployment=deployment, status=RunStatus.RUNNING)
        result = capture_compact(
            tenant_id=company.a.pk, older_than=timezone.now() - timedelta(minutes=10)
        )
        assert result.skipped_deployments == [deployment.pk]
        assert CapturedRequest.objects.count() == 2


def test_retention_removes_partitions_older_than_the_setting(company, capture_store, settings):
    settings.CAPTURE_RETENTION_DAYS_BY_TIER = {
        **settings.CAPTURE_RETENTION_DAYS_BY_TIER,
        "minimal": 30,
    }
    deployment = make_deployment(company.a)
    now = timezone.now()
    capture(deployment, 100, at=now - timedelta(days=40))
    capture(deployment, 100, at=now - timedelta(days=2))
    with tenant_scope(company.a):
        capture_compact(tenant_id=company.a.pk, older_than=now)
        removed = capture_retention_apply(tenant_id=company.a.pk, now=now)
        assert len(removed) == 1
        assert _rows(CaptureWindow(WindowSpec(deployment.pk, company.a.pk))) == 100


def test_a_window_reads_hot_rows_and_partitions_within_its_time_range(company):
    deployment = make_deployment(company.a)
    capture(deployment, 100, at=HOUR + timedelta(minutes=10))
    capture(deployment, 100, at=HOUR + timedelta(minutes=50))
    with tenant_scope(company.a):
        capture_compact(tenant_id=company.a.pk, older_than=HOUR + timedelta(minutes=30))
        spec = WindowSpec(
            deployment.pk,
            company.a.pk,
            start=HOUR + timedelta(minutes=5),
            end=HOUR + timedelta(minutes=40),
        )
        window = CaptureWindow(spec)
        assert _rows(window) == 100
        assert _rows(window) == 100  # a second pass starts over
        chunk = next(iter(window))
        assert len(chunk["income"]) == 100


def test_a_row_window_takes_the_newest_rows(company):
    deployment = make_deployment(company.a)
    capture(deployment, 300, at=HOUR)
    capture(deployment, 120, at=HOUR + timedelta(hours=2), seed=3)
    with tenant_scope(company.a):
        capture_compact(tenant_id=company.a.pk, older_than=HOUR + timedelta(hours=1))
        assert _rows(CaptureWindow(WindowSpec(deployment.pk, company.a.pk, last_rows=100))) == 100
        assert _rows(CaptureWindow(WindowSpec(deployment.pk, company.a.pk, last_rows=250))) == 250
        assert len(capture_window_sample(WindowSpec(deployment.pk, company.a.pk), rows=350)) == 350
