"""The JSON errors of /api/ and /serve/, for the API's views and for whatever else answers there.

The API's shape is ``{"code": ..., "detail": ...}`` (``portal.core.api.errors``); under
``/serve/`` the gateway speaks MLflow's scoring protocol, ``{"error_code": ..., "message": ...}``.
``json_error`` writes the one the path calls for. ``portal.core.middleware.JsonErrorsMiddleware``
uses these for what no view answered (a path that matches nothing, an error outside the API's
views), so that with ``DEBUG`` on, as with it off, no client gets Django's debug pages. A bad body
is the client's mistake (``portal.core.errors.request_error``): a 4xx that Django logs in one
line.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from portal.core.errors import request_error

logger = logging.getLogger(__name__)

NOT_FOUND_BODY = {"code": "not_found", "detail": "Not found."}
# The database is down, restarting or unreachable: a 503 the caller may retry, not a 500.
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_UNAVAILABLE_BODY = {
    "code": "database_unavailable",
    "detail": "The portal's database is not answering right now; try again in a minute.",
}
DATABASE_RETRY_AFTER_SECONDS = 10
SERVER_ERROR_DETAIL = (
    "Something went wrong on our side. The error is logged; quote the X-Request-ID header of "
    "this response when you report it."
)
SENTENCES = {
    "not_authenticated": (
        "Authentication required: sign in, or send 'Authorization: Bearer <token>' with a service token."
    ),
    "authentication_failed": "The credentials were not accepted.",
    "permission_denied": "You do not have permission to do this.",
    "method_not_allowed": "This method is not allowed here.",
    "throttled": "Too many requests; try again later.",
}

API_PREFIX = "/api/"
GATEWAY_PREFIX = "/serve/"
JSON_PREFIXES = (API_PREFIX, GATEWAY_PREFIX)
# What a status means when nothing more precise is known, as (code, sentence).
STATUS_ERRORS = {
    400: ("invalid", "The request is malformed; check its body and headers."),
    403: ("permission_denied", SENTENCES["permission_denied"]),
    404: (NOT_FOUND_BODY["code"], NOT_FOUND_BODY["detail"]),
    405: ("method_not_allowed", SENTENCES["method_not_allowed"]),
    413: ("too_large", "The request body is too large; send a smaller one."),
    500: ("server_error", SERVER_ERROR_DETAIL),
    503: (DATABASE_UNAVAILABLE_BODY["code"], DATABASE_UNAVAILABLE_BODY["detail"]),
}
# The error codes of MLflow's scoring protocol, which the gateway's clients read.
SCORING_CODES = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}
GATEWAY_NOT_FOUND = (
    "Nothing is served at this path; predictions go to /serve/<tenant>/<deployment>/invocations."
)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def json_error(request: HttpRequest, status_code: int, code: str, detail: str) -> HttpResponse:
    """An error in the shape the caller of ``request``'s path reads."""
    if request.path.startswith(GATEWAY_PREFIX):
        scoring_code = SCORING_CODES.get(status_code, "BAD_REQUEST")
        if status_code == 404 and detail == NOT_FOUND_BODY["detail"]:
            detail = GATEWAY_NOT_FOUND
        body = {"error_code": scoring_code, "message": detail}
    else:
        body = {"code": code, "detail": detail}
    response = JsonResponse(body, status=status_code)
    if status_code == 503:
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def json_error_for_status(request: HttpRequest, status_code: int) -> HttpResponse:
    """The JSON answer of a status that Django or a middleware chose, without knowing why."""
    default = STATUS_ERRORS[500] if status_code >= 500 else STATUS_ERRORS[400]
    code, detail = STATUS_ERRORS.get(status_code, default)
    return json_error(request, status_code, code, detail)


def json_error_for_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The JSON answer to an exception a view outside DRF raised; a server error is logged with
    its traceback, a client's mistake by Django in one line."""
    if isinstance(exc, Http404):
        return json_error_for_status(request, 404)
    if isinstance(exc, PermissionDenied):
        return json_error_for_status(request, 403)
    if isinstance(exc, DATABASE_ERRORS):
        logger.warning("Database unavailable: %s", str(exc).strip())
        return json_error_for_status(request, 503)
    if (client_error := request_error(exc)) is not None:
        return json_error(request, client_error.status_code, client_error.code, client_error.detail)
    logger.error("Unhandled error on %s", request.path, exc_info=exc)
    return json_error_for_status(request, 500)
