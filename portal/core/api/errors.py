"""One exception handler for the whole API: every error is JSON of one shape.

    {"code": "<stable machine code>", "detail": "<a sentence for a person>", "errors": {...}}

``errors`` appears only on validation failures and maps field names to messages. Bodies carry
nothing request-specific (the request id travels in the ``X-Request-ID`` header), so a 404 for
another tenant's object is byte-identical to a 404 for a missing one.

A bad body is the client's mistake (``portal.core.errors.request_error``): a 400 or 413, not a 500.
What answers under /api/ outside the API's views is in ``portal.core.http_errors``.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.core.errors import PortalError, request_error
from portal.core.http_errors import (
    DATABASE_ERRORS,
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_BODY,
    NOT_FOUND_BODY,
    SENTENCES,
    SERVER_ERROR_DETAIL,
)

logger = logging.getLogger(__name__)


def _validation_detail(errors: dict | list) -> str:
    if isinstance(errors, dict):
        fields = [name for name in errors if name != "non_field_errors"]
        general = errors.get("non_field_errors")
        if general and not fields:
            return str(general[0])
        if fields:
            first = errors[fields[0]]
            message = first[0] if isinstance(first, list) and first else first
            if isinstance(message, dict):
                return f"Some fields are not valid: {', '.join(fields)}."
            more = f" (and {len(fields) - 1} more field(s))" if len(fields) > 1 else ""
            return f"{fields[0]}: {message}{more}"
    if isinstance(errors, list) and errors:
        return str(errors[0])
    return "The request is not valid."


def _client_error(exc: Exception) -> PortalError | None:
    mapped = request_error(exc)
    if mapped is None and isinstance(exc, exceptions.ParseError):
        # DRF's parsers raise ParseError from the decoder's error: say what that was.
        mapped = request_error(exc.__cause__ or exc.__context__ or exc, decoding_body=True)
    return mapped


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if (client_error := _client_error(exc)) is not None:
        return Response(
            {"code": client_error.code, "detail": client_error.detail},
            status=client_error.status_code,
        )
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return Response(NOT_FOUND_BODY, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DATABASE_ERRORS):
        logger.warning("Database unavailable: %s", str(exc).strip())
        return Response(
            DATABASE_UNAVAILABLE_BODY,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
        return Response(
            {"code": "server_error", "detail": SERVER_ERROR_DETAIL},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "detail": _validation_detail(exc.detail), "errors": exc.detail}
        if not isinstance(exc.detail, dict):
            body["errors"] = {"non_field_errors": exc.detail}
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = code if isinstance(code, str) else "error"
        detail = getattr(exc, "detail", "")
        if isinstance(exc, exceptions.Throttled):
            wait = getattr(exc, "wait", None)
            detail = f"Too many requests; try again in {wait:.0f} seconds." if wait else detail
        elif code in SENTENCES and str(detail) in {
            str(exceptions.NotAuthenticated.default_detail),
            str(exceptions.PermissionDenied.default_detail),
            str(exceptions.AuthenticationFailed.default_detail),
        }:
            detail = SENTENCES[code]
        body = {"code": code, "detail": str(detail)}
    response.data = body
    return response
