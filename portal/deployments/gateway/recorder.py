"""Capture and metering for the gateway, off the request path.

``Recorder.record`` is called once per answered request and never blocks: it appends to an
in-memory buffer of at most ``GATEWAY_CAPTURE_BUFFER`` captured requests and
``GATEWAY_CAPTURE_BUFFER_BYTES`` bytes (beyond either the capture is dropped and counted, as is
one capture larger than ``GATEWAY_CAPTURE_MAX_BYTES``) and adds to per-revision, per-minute
counters. A capture's bytes are those of its request body and answer, as they came. A background
thread flushes every ``GATEWAY_FLUSH_SECONDS``: captured rows to monitoring's store, counters
to ``GatewayMinute`` (added to what other processes wrote), and requests and compute seconds to
chargeback's usage events, each flush under its own idempotency keys. A flush that fails loses
the captures of that flush (counted as dropped) and keeps the counters for the next one.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from chargeback.services.metering import UsageInput, usage_record_many
from portal.deployments.models import Deployment
from portal.monitoring.capture import capture_write_many
from tenants.scoping import dangerously_across_tenants

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Counter:
    tenant_id: int
    requests: int = 0
    errors: int = 0
    rows: int = 0
    latency_ms_total: float = 0.0
    latency_ms_max: float = 0.0
    compute_seconds: float = 0.0
    captured: int = 0
    dropped: int = 0


class Recorder:
    def __init__(
        self,
        *,
        capacity: int | None = None,
        buffer_bytes: int | None = None,
        max_bytes: int | None = None,
        interval: float | None = None,
    ) -> None:
        self.capacity = settings.GATEWAY_CAPTURE_BUFFER if capacity is None else capacity
        self.buffer_bytes = (
            settings.GATEWAY_CAPTURE_BUFFER_BYTES if buffer_bytes is None else buffer_bytes
        )
        self.max_bytes = settings.GATEWAY_CAPTURE_MAX_BYTES if max_bytes is None else max_bytes
        self.interval = interval or settings.GATEWAY_FLUSH_SECONDS
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # held for the whole of a flush, writes and all
        self._captures: list[Any] = []
        self._captured_bytes = 0
        self._counters: dict[tuple[int, datetime], Counter] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._process = uuid.uuid4().hex[:12]
        self._flushes = 0

    # --- the request path ----------------------------------------------------------------------

    def record(
        self,
        *,
        tenant_id: int,
        deployment_id: int,
        status: int,
        rows: int,
        latency_ms: float,
        compute_seconds: float,
        capture: Any = None,
        capture_bytes: int = 0,
    ) -> None:
        self._ensure_thread()
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        with self._lock:
            counter = self._counters.get((deployment_id, minute))
            if counter is None:
                counter = self._counters[(deployment_id, minute)] = Counter(tenant_id=tenant_id)
            counter.requests += 1
            counter.errors += status >= 400
            counter.rows += rows
            counter.latency_ms_total += latency_ms
            counter.latency_ms_max = max(counter.latency_ms_max, latency_ms)
            counter.compute_seconds += compute_seconds
            if capture is not None:
                if self._has_room(capture_bytes):
                    self._captures.append(capture)
                    self._captured_bytes += capture_bytes
                    counter.captured += rows
                else:
                    counter.dropped += rows

    def _has_room(self, size: int) -> bool:
        return (
            len(self._captures) < self.capacity
            and size <= self.max_bytes
            and self._captured_bytes + size <= self.buffer_bytes
        )

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid() and self._thread is not None:
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None:
                return
            # A fresh process (gunicorn forks after import): start this process's own flusher.
            self._pid, self._captures, self._counters = os.getpid(), [], {}
            self._captured_bytes = 0
            self._process = uuid.uuid4().hex[:12]
            self._thread = threading.Thread(target=self._run, name="gateway-recorder", daemon=True)
            self._thread.start()
            atexit.register(self.flush)

    # --- the flusher ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("Gateway recorder: a flush failed")
            finally:
                connection.close()  # this thread's own connection; none is kept idle

    def flush(self) -> None:
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            captures, self._captures = self._captures, []
            counters, self._counters = self._counters, {}
            self._captured_bytes = 0
        if not captures and not counters:
            return
        self._flushes += 1
        if captures:
            try:
                capture_write_many(captures)
            except Exception:
                log.exception("Gateway recorder: %s captured request(s) lost", len(captures))
                self._count_lost(captures, counters)
        try:
            try:
                with transaction.atomic():
                    self._write_minutes(counters)
                    self._write_usage(counters)
            except IntegrityError:
                # A revision deleted since it answered: its counts have nowhere to go.
                counters = self._of_existing_deployments(counters)
                with transaction.atomic():
                    self._write_minutes(counters)
                    self._write_usage(counters)
        except Exception:
            log.exception("Gateway recorder: counters kept for the next flush")
            with self._lock:
                for key, counter in counters.items():
                    self._merge(key, counter)

    def _of_existing_deployments(
        self, counters: dict[tuple[int, datetime], Counter]
    ) -> dict[tuple[int, datetime], Counter]:
        existing = set(
            Deployment.objects.dangerously_across_tenants()
            .filter(pk__in={deployment_id for deployment_id, _ in counters})
            .values_list("pk", flat=True)
        )
        return {key: c for key, c in counters.items() if key[0] in existing}

    def reset(self) -> None:
        """Forget what is buffered, once a flush under way has ended (tests start from nothing)."""
        with self._flushing, self._lock:
            self._captures, self._counters = [], {}
            self._captured_bytes = 0

    def counts(self) -> dict[str, int]:
        """What waits in this buffer: captured requests, their bytes, and rows dropped."""
        with self._lock:
            return {
                "captures": len(self._captures),
                "bytes": self._captured_bytes,
                "dropped": sum(c.dropped for c in self._counters.values()),
            }

    def _count_lost(
        self, captures: list[Any], counters: dict[tuple[int, datetime], Counter]
    ) -> None:
        for capture in captures:
            minute = capture.received_at.replace(second=0, microsecond=0)
            counter = counters.get((capture.deployment_id, minute))
            if counter is not None:
                counter.captured -= len(capture.rows)
                counter.dropped += len(capture.rows)

    def _merge(self, key: tuple[int, datetime], counter: Counter) -> None:
        mine = self._counters.setdefault(key, Counter(tenant_id=counter.tenant_id))
        for name in ("requests", "errors", "rows", "captured", "dropped"):
            setattr(mine, name, getattr(mine, name) + getattr(counter, name))
        mine.latency_ms_total += counter.latency_ms_total
        mine.compute_seconds += counter.compute_seconds
        mine.latency_ms_max = max(mine.latency_ms_max, counter.latency_ms_max)

    def _write_minutes(self, counters: dict[tuple[int, datetime], Counter]) -> None:
        sql = (
            "INSERT INTO deployments_gatewayminute AS m (tenant_id, deployment_id, minute, "
            "requests, errors, input_rows, latency_ms_total, latency_ms_max, captured, dropped) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (deployment_id, minute) DO UPDATE SET "
            "requests = m.requests + EXCLUDED.requests, "
            "errors = m.errors + EXCLUDED.errors, "
            "input_rows = m.input_rows + EXCLUDED.input_rows, "
            "latency_ms_total = m.latency_ms_total + EXCLUDED.latency_ms_total, "
            "latency_ms_max = CASE WHEN m.latency_ms_max > EXCLUDED.latency_ms_max "
            "THEN m.latency_ms_max ELSE EXCLUDED.latency_ms_max END, "
            "captured = m.captured + EXCLUDED.captured, "
            "dropped = m.dropped + EXCLUDED.dropped"
        )
        params = [
            (
                c.tenant_id,
                deployment_id,
                minute if settings.USE_TZ else minute.replace(tzinfo=None),
                c.requests,
                c.errors,
                c.rows,
                c.latency_ms_total,
                c.latency_ms_max,
                c.captured,
                c.dropped,
            )
            for (deployment_id, minute), c in sorted(counters.items())
        ]
        # One flush holds the minutes of every tenant the gateway served.
        with dangerously_across_tenants("gateway minutes"), connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _write_usage(self, counters: dict[tuple[int, datetime], Counter]) -> None:
        events = []
        flush = f"gw:{self._process}:{self._flushes}"
        for (deployment_id, minute), c in counters.items():
            end = minute + timedelta(minutes=1)
            for meter, quantity, unit in (
                ("requests", Decimal(c.requests), "requests"),
                ("compute_seconds", Decimal(str(round(c.compute_seconds, 6))), "seconds"),
            ):
                if quantity:
                    events.append(
                        UsageInput(
                            tenant_id=c.tenant_id,
                            meter=meter,
                            quantity=quantity,
                            unit=unit,
                            start=minute,
                            end=end,
                            idempotency_key=f"{flush}:{deployment_id}:{minute:%Y%m%d%H%M}:{meter}",
                            deployment_id=deployment_id,
                        )
                    )
        if events:
            usage_record_many(events)


_recorder: Recorder | None = None
_recorder_lock = threading.Lock()


def recorder() -> Recorder:
    global _recorder
    if _recorder is None:
        with _recorder_lock:
            if _recorder is None:
                _recorder = Recorder()
    return _recorder
