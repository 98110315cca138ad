"""The gateway's views; see the package docstring."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import urllib3
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from portal.core.errors import Unauthenticated, request_error
from portal.deployments.gateway import protocol
from portal.deployments.gateway.protocol import Payload, PayloadError
from portal.deployments.gateway.recorder import recorder
from portal.deployments.gateway.routes import (
    Backend,
    Caller,
    RateLimiter,
    Route,
    caller_for,
    route_for,
)
from portal.deployments.unix_http import UnixPools
from portal.monitoring.capture import CaptureRecord

log = logging.getLogger(__name__)

_TIMEOUT = urllib3.Timeout(connect=2.0, read=settings.GATEWAY_TIMEOUT_SECONDS)
_http = urllib3.PoolManager(num_pools=64, maxsize=16, block=False, retries=False, timeout=_TIMEOUT)
# Local model servers, over their Unix sockets: the same pooling, one pool per socket.
_unix = UnixPools(num_pools=64, maxsize=16, block=False, retries=False, timeout=_TIMEOUT)
_limiter: RateLimiter | None = None
_limiter_lock = threading.Lock()
# Shadow copies: a few threads and a bounded queue; a copy that finds it full is dropped.
_shadow_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gateway-shadow")
_shadow_pending = threading.BoundedSemaphore(64)


def _error(status: int, code: str, message: str, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"error_code": code, "message": message}),
        status=status,
        content_type="application/json",
    )
    for name, value in headers.items():
        response[name] = value
    return response


def _not_found(endpoint: str) -> HttpResponse:
    return _error(
        404,
        "RESOURCE_DOES_NOT_EXIST",
        f"There is no deployment '{endpoint}' in this tenant.",
    )


def _suspended(route: Route) -> HttpResponse:
    return _error(
        503, "TEMPORARILY_UNAVAILABLE", f"'{route.endpoint}' is suspended: {route.suspended}"
    )


def _send(backend: Backend, body: bytes, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
    if backend.socket:
        return _unix.request(
            "POST", backend.socket, backend.url, secret=backend.secret, body=body, headers=headers
        )
    return _http.request("POST", backend.url, body=body, headers=headers)


def _limiter_get() -> RateLimiter:
    global _limiter
    if _limiter is None:
        with _limiter_lock:
            if _limiter is None:
                _limiter = RateLimiter(settings.GATEWAY_RATE_LIMIT)
    return _limiter


def _authenticate(request: HttpRequest, tenant: str) -> Caller | HttpResponse:
    header = request.headers.get("Authorization", "")
    kind, _, raw = header.partition(" ")
    if kind.lower() != "bearer" or not raw.strip():
        return _error(
            401,
            "UNAUTHENTICATED",
            "Send a service token with the predict scope as 'Authorization: Bearer <token>'.",
            **{"WWW-Authenticate": "Bearer"},
        )
    try:
        caller = caller_for(raw.strip())
    except Unauthenticated as error:
        return _error(401, "UNAUTHENTICATED", error.detail, **{"WWW-Authenticate": "Bearer"})
    if caller.tenant_slug != tenant:
        return _not_found("")
    if not caller.may_predict:
        return _error(403, "PERMISSION_DENIED", "This token lacks the 'predict' scope.")
    wait = _limiter_get().allow(caller.token_id)
    if wait:
        return _error(
            429,
            "REQUEST_LIMIT_EXCEEDED",
            f"This token sends more than {settings.GATEWAY_RATE_LIMIT} requests; slow down.",
            **{"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return caller


def _caller_and_route(
    request: HttpRequest, tenant: str, deployment: str
) -> tuple[Caller, Route] | HttpResponse:
    """The token's caller and the endpoint's route, or the gateway's answer when either is
    missing (another tenant's endpoint is the same 404 as a missing one)."""
    caller = _authenticate(request, tenant)
    if isinstance(caller, HttpResponse):
        return caller if caller.status_code != 404 else _not_found(deployment)
    route = route_for(caller.tenant_id, deployment)
    if route is None:
        return _not_found(deployment)
    return caller, route


@csrf_exempt
def invocations(request: HttpRequest, tenant: str, deployment: str) -> HttpResponse:
    if request.method != "POST":
        return _error(405, "BAD_REQUEST", "Send predictions with POST.", Allow="POST")
    started = time.perf_counter()
    found = _caller_and_route(request, tenant, deployment)
    if isinstance(found, HttpResponse):
        return found
    caller, route = found
    backend = route.choose()
    if backend is None and route.suspended:
        return _suspended(route)
    if backend is None:
        return _error(
            503,
            "TEMPORARILY_UNAVAILABLE",
            f"'{route.endpoint}' has no revision serving right now"
            + (" (one is starting)" if route.waiting else "")
            + "; try again shortly.",
            **{"Retry-After": "5"},
        )
    try:
        body = request.body
        content_type = protocol.content_type_of(request.content_type or "")
        payload = protocol.parse(body, content_type, protocol.input_names(backend.signature))
        protocol.check_signature(payload, backend.signature)
    except PayloadError as error:
        _record(caller, backend, error.status, None, started, 0.0, None)
        return _error(error.status, error.code, error.message)
    except Exception as error:
        # A body too large, nested too deeply or unreadable: the client's mistake, as at the API.
        refused = request_error(error, decoding_body=True)
        if refused is None:
            raise
        _record(caller, backend, refused.status_code, None, started, 0.0, None)
        return _error(refused.status_code, "BAD_REQUEST", refused.detail)
    forwarded = {"Content-Type": request.content_type or protocol.JSON}
    sent = time.perf_counter()
    try:
        try:
            answer = _send(backend, body, forwarded)
        except urllib3.exceptions.NewConnectionError:
            # The route moved on (a rollback, a restarted server): look again, and try once more.
            fresh = route_for(caller.tenant_id, deployment, fresh=True)
            retry = fresh.choose() if fresh else None
            if retry is None or (retry.url, retry.socket) == (backend.url, backend.socket):
                raise
            backend = retry
            answer = _send(backend, body, forwarded)
    except urllib3.exceptions.HTTPError as error:
        now = route_for(caller.tenant_id, deployment, fresh=True)
        if now is not None and now.suspended:
            return _suspended(now)  # its server was stopped by the suspension
        log.warning("Gateway: revision %s did not answer: %s", backend.revision, error)
        _record(caller, backend, 503, None, started, time.perf_counter() - sent, None)
        return _error(
            503,
            "TEMPORARILY_UNAVAILABLE",
            f"The model server of revision {backend.revision} did not answer; try again.",
            **{"Retry-After": "1"},
        )
    compute = time.perf_counter() - sent
    response = HttpResponse(
        answer.data,
        status=answer.status,
        content_type=answer.headers.get("Content-Type", "application/json"),
    )
    response["X-Deployment-Revision"] = str(backend.revision)
    _record(caller, backend, answer.status, payload, started, compute, answer.data, size=len(body))
    for shadow in route.shadows:
        _shadow(caller, shadow, body, forwarded, payload)
    return response


def _record(
    caller: Caller,
    backend: Backend,
    status: int,
    payload: Payload | None,
    started: float,
    compute: float,
    answer: bytes | None,
    *,
    shadow: bool = False,
    size: int = 0,
) -> None:
    """Count the request, and capture it when it was scored; ``size`` is the bytes of its body
    (the answer's are added here), what the capture buffer is bounded by."""
    try:
        latency_ms = (time.perf_counter() - started) * 1000
        capture = None
        if payload is not None and answer is not None and status < 400 and payload.columns:
            capture = CaptureRecord(
                tenant_id=caller.tenant_id,
                deployment_id=backend.deployment_id,
                received_at=datetime.now(UTC),
                columns=payload.columns,
                rows=payload.rows,
                predictions=protocol.predictions_of(answer),
                latency_ms=latency_ms,
                shadow=shadow,
            )
            size += len(answer)
        recorder().record(
            tenant_id=caller.tenant_id,
            deployment_id=backend.deployment_id,
            status=status,
            rows=len(payload.rows) if payload else 0,
            latency_ms=latency_ms,
            compute_seconds=compute,
            capture=capture,
            capture_bytes=size,
        )
    except Exception:  # capture and metering never fail a prediction
        log.exception("Gateway: recording a request failed")


def _shadow(
    caller: Caller, backend: Backend, body: bytes, headers: dict[str, str], payload: Payload
) -> None:
    if not _shadow_pending.acquire(blocking=False):
        recorder().record(
            tenant_id=caller.tenant_id,
            deployment_id=backend.deployment_id,
            status=0,
            rows=0,
            latency_ms=0.0,
            compute_seconds=0.0,
        )
        return

    def send() -> None:
        started = time.perf_counter()
        try:
            answer = _send(backend, body, headers)
            _record(
                caller,
                backend,
                answer.status,
                payload,
                started,
                time.perf_counter() - started,
                answer.data,
                shadow=True,
                size=len(body),
            )
        except urllib3.exceptions.HTTPError:
            _record(caller, backend, 503, None, started, 0.0, None, shadow=True)
        finally:
            _shadow_pending.release()

    _shadow_pool.submit(send)


@csrf_exempt
def ping(request: HttpRequest, tenant: str, deployment: str) -> HttpResponse:
    """200 when the endpoint has a revision serving, like a model server's ``/ping``."""
    found = _caller_and_route(request, tenant, deployment)
    if isinstance(found, HttpResponse):
        return found
    _, route = found
    if not route.backends:
        why = f" It is suspended: {route.suspended}" if route.suspended else ""
        return _error(503, "TEMPORARILY_UNAVAILABLE", f"'{route.endpoint}' is not serving.{why}")
    return HttpResponse("\n", status=200, content_type="application/json")
