"""Request-wide middleware: the client's address behind the portal's proxy, a request id for logs
and the audit trail, security headers, and JSON errors under /api/ and /serve/."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from portal.http_errors import json_error_for_exception, json_error_for_status, wants_json

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current_request_id() -> str:
    """The id of the request (or task) being served, or an empty string outside of one."""
    return _request_id.get()


def set_request_id(value: str):
    """Set the id for work outside a request (a task, a command); returns a token to reset it."""
    return _request_id.set(value)


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
    """Takes a well-formed ``X-Request-ID`` from the caller or makes one, and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ContentSecurityPolicyMiddleware:
    """Sends the portal's Content-Security-Policy: everything from this origin, nothing inline."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(response, "content_security_policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Content-Security-Policy", policy)
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
