"""Request-wide middleware: the client's address behind the portal's proxy, a request id for logs
and the audit trail, and JSON errors under /api/ and /serve/; and the log filter that writes the
request id into every log line.

The request id lives in django-guid's context (``django_guid.get_guid()``): its Celery integration
carries it into the tasks a request enqueues, and gives a task that nothing enqueued (beat's) a
fresh one. django-csp sends the Content-Security-Policy."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_guid import clear_guid, get_guid, set_guid
from django_guid.log_filters import CorrelationId

from portal.core.http_errors import json_error_for_exception, json_error_for_status, wants_json
from portal.core.request_ids import request_id_of_received

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
NO_REQUEST_ID = "-"


class RequestIdFilter(CorrelationId):
    """Sets ``correlation_id`` on every log record: the id of the request or task being served,
    ``-`` outside of one (start-up, a command). The worker's line on taking a task's message
    names the request that sent it, though the task has not started yet."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = get_guid()
        data = getattr(record, "data", None)
        if record.name == "celery.worker.strategy" and isinstance(data, dict):
            request_id = request_id_of_received(str(data.get("id"))) or request_id
        record.correlation_id = request_id or NO_REQUEST_ID
        return True


class TrustedProxyMiddleware:
    """Behind the portal's own proxy (``TRUSTED_PROXY``), the client is the address the proxy saw:
    the last entry of X-Forwarded-For, which the proxy writes. It becomes ``REMOTE_ADDR``, so rate
    limits, throttles and logs all see the client. Without the setting, X-Forwarded-For is what
    the client wrote, and nothing reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.TRUSTED_PROXY:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            client = forwarded.rsplit(",", 1)[-1].strip()
            with contextlib.suppress(ValueError):  # no address from the proxy: the peer's stays
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(client))
        return self.get_response(request)


class RequestIdMiddleware:
    """Takes a well-formed ``X-Request-ID`` from the caller (8 to 64 letters, digits or ``._:-``) or
    makes one, serves the request under it, and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        set_guid(request_id)
        try:
            response = self.get_response(request)
        finally:
            clear_guid()  # nothing the thread logs after the answer carries it
        response["X-Request-ID"] = request_id
        return response


class JsonErrorsMiddleware:
    """Every answer under /api/ and /serve/ is JSON in its error shape, with DEBUG on or off.

    An exception a view outside DRF raises is answered here (``json_error_for_exception``).
    What Django answers by itself (a path that matches nothing, an error in a middleware) is
    replaced by the JSON of its status; with DEBUG on, that is where Django's debug pages, which
    list every URL pattern or show a traceback, would otherwise go to the client. DRF's own
    answers are left alone: they are already in the API's shape.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and wants_json(request)
            and not hasattr(response, "accepted_renderer")  # DRF's: in the API's shape
            and response.get("Content-Type", "").split(";")[0] != "application/json"
        ):
            replacement = json_error_for_status(request, response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            response = replacement
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not wants_json(request):
            return None
        return json_error_for_exception(request, exception)
