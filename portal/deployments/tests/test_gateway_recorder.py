"""The gateway's capture buffer is bounded in bytes as well as in requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from portal.deployments.gateway import recorder as recorder_module
from portal.deployments.gateway.recorder import Recorder
from portal.deployments.models import GatewayMinute
from portal.deployments.targets.base import TargetState
from portal.monitoring.capture import CaptureRecord
from portal.monitoring.models import CapturedRequest
from portal.monitoring.tests.builders import make_deployment
from tenants.scoping import tenant_scope
from tests.builders import make_token

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


@pytest.fixture
def model_server() -> Iterator[str]:
    """Answers every scoring request with one prediction per row, as ``mlflow models serve``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            answer = json.dumps({"predictions": [1] * len(body["dataframe_split"]["data"])})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_prediction_larger_than_the_cap_is_answered_but_not_captured(
    company, model_server, monkeypatch
):
    deployment = make_deployment(company.a)
    with tenant_scope(company.a):
        deployment.serving = {"state": TargetState.READY, "url": model_server}
        deployment.save(update_fields=["serving"])
    _, token = make_token(company.a, ["predict"])
    # This test's own buffer, flushed by the test alone (not by the process's flusher thread).
    own = Recorder(capacity=1000, buffer_bytes=8 * KIB * KIB, max_bytes=64 * KIB, interval=3600)
    monkeypatch.setattr(recorder_module, "_recorder", own)

    def predict(rows: int):
        body = {"dataframe_split": {"columns": ["income", "age", "region"], "data": []}}
        body["dataframe_split"]["data"] = [[52.0, 41, "north"]] * rows
        return Client().post(
            f"/serve/{company.a.slug}/{deployment.name}/invocations",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    small, large = predict(10), predict(4000)  # about 0.3 KiB and 100 KiB

    assert small.status_code == large.status_code == 200
    assert len(large.json()["predictions"]) == 4000
    assert own.counts()["captures"] == 1
    own.flush()
    minute = minute_of(deployment)
    assert (minute.requests, minute.captured, minute.dropped) == (2, 10, 4000)
