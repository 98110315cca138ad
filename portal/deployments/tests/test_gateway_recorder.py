"""The gateway's capture buffer is bounded in bytes as well as in requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.deployments.gateway.recorder import Recorder
from portal.deployments.models import GatewayMinute
from portal.monitoring.capture import CaptureRecord
from portal.monitoring.models import CapturedRequest
from portal.monitoring.tests.conftest import make_deployment
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db
KIB = 1024


def record(recorder: Recorder, deployment, *, rows: int, size: int) -> None:
    recorder.record(
        tenant_id=deployment.tenant_id,
        deployment_id=deployment.pk,
        status=200,
        rows=rows,
        latency_ms=3.0,
        compute_seconds=0.002,
        capture=CaptureRecord(
            tenant_id=deployment.tenant_id,
            deployment_id=deployment.pk,
            received_at=datetime.now(UTC),
            columns=["income", "age", "region"],
            rows=[[1.0, 30, "north"]] * rows,
            predictions=[0] * rows,
            latency_ms=3.0,
        ),
        capture_bytes=size,
    )


def minute_of(deployment) -> GatewayMinute:
    with tenant_scope(deployment.tenant):
        return GatewayMinute.objects.get(deployment=deployment)


def test_captures_beyond_the_buffers_bytes_are_dropped_and_counted_as_dropped(company):
    deployment = make_deployment(company.a)
    recorder = Recorder(capacity=1000, buffer_bytes=100 * KIB, max_bytes=64 * KIB, interval=3600)

    for _ in range(5):  # 40 KiB each: two fit in 100 KiB, three do not
        record(recorder, deployment, rows=2, size=40 * KIB)
    assert recorder.counts() == {"captures": 2, "bytes": 80 * KIB, "dropped": 6}
    recorder.flush()

    minute = minute_of(deployment)
    assert (minute.requests, minute.captured, minute.dropped) == (5, 4, 6)
    with tenant_scope(company.a):
        assert CapturedRequest.objects.filter(deployment=deployment).count() == 2
    # the flush emptied the buffer: there is room again
    record(recorder, deployment, rows=1, size=40 * KIB)
    assert recorder.counts()["captures"] == 1
    recorder.reset()  # nothing left for the flush at exit


def test_one_capture_larger_than_the_cap_is_dropped_even_with_room_in_the_buffer(company):
    deployment = make_deployment(company.a)
    recorder = Recorder(
        capacity=1000, buffer_bytes=8 * KIB * KIB, max_bytes=64 * KIB, interval=3600
    )

    record(recorder, deployment, rows=50, size=2500 * KIB)  # one 2.5 MB prediction
    record(recorder, deployment, rows=1, size=2 * KIB)
    assert recorder.counts() == {"captures": 1, "bytes": 2 * KIB, "dropped": 50}
    recorder.flush()

    minute = minute_of(deployment)
    assert (minute.requests, minute.captured, minute.dropped) == (2, 1, 50)


def test_the_byte_bounds_come_from_the_settings(settings):
    settings.GATEWAY_CAPTURE_BUFFER_BYTES = 3 * KIB * KIB
    settings.GATEWAY_CAPTURE_MAX_BYTES = 256 * KIB
    recorder = Recorder()
    assert (recorder.buffer_bytes, recorder.max_bytes) == (3 * KIB * KIB, 256 * KIB)
