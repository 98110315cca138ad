"""The OpenAPI schema documents the errors every operation can answer with, not only its success.

Errors all have one shape (``portal.core.api.errors``). Which ones an operation documents follows
from what it is: every protected operation can be 401 and 403; a path with parameters or a
paginated list can be 404; a write, or a read with query parameters, can be 400; a write can be
409 when the thing's state does not allow it; an operation that reads a body can be 415 when the
body comes in a media type it does not read, or names none; a throttled method can be 429. Views
add their own (a 503 when MLflow does not answer) with ``extend_schema(responses=...)``.

DRF reads a query string as form input, where an optional parameter given empty counts as not
given: such parameters are ``allowEmptyValue``.

Every POST takes an optional ``Idempotency-Key`` header (``portal.core.api.idempotency``).

A serializer whose output leaves some fields out for some callers names them in
``Meta.fields_not_always_present``; the schema then does not require them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import permissions, serializers

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": (
        "Makes a retry safe: a repeat with the same key by the same caller within 24 hours gets "
        "the first answer again (marked `Idempotent-Replayed: true`) without the work being done "
        "twice. The same key with a different request, or while the first is still being "
        "answered, is a 409. Answers 5xx and 429 are not kept."
    ),
}


ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(
            help_text="A stable machine code, like 'invalid' or 'not_found'."
        ),
        "detail": serializers.CharField(help_text="A sentence for a person that says what to fix."),
        "errors": serializers.DictField(
            required=False,
            help_text="On validation failures only: field names mapped to their messages.",
        ),
    },
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ERRORS = {
    400: error("The request is not valid; `detail` says what to fix and `errors` which fields."),
    401: error("Not signed in, or the service token is missing, malformed, expired or revoked."),
    403: error("The caller's role or token scopes do not allow this."),
    404: error("No such thing, or it belongs to a tenant the caller cannot see."),
    409: error("The thing's current state does not allow this now."),
    415: error("The body's media type is not one this operation reads, or the body names none."),
    429: error("Too many requests; `Retry-After` says when to try again."),
    503: error("MLflow did not answer; try again later."),
}


class PortalAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        meta = getattr(serializer, "Meta", None)
        optional = set(getattr(meta, "fields_not_always_present", ()))
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        if self.method == "POST":
            parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status_code in self._error_status_codes():
            responses.setdefault(
                str(status_code),
                self._get_response_for_code(
                    ERRORS[status_code], str(status_code), ["application/json"], direction
                ),
            )
        return dict(sorted(responses.items()))

    def _error_status_codes(self) -> list[int]:
        codes = []
        if not self._is_public():
            codes += [401, 403]
        if self._has_path_parameters() or self._is_paginated_list():
            codes.append(404)
        if self.method in WRITE_METHODS or self._has_query_parameters():
            codes.append(400)
        if self.method in WRITE_METHODS:
            codes.append(409)
        if self._get_request_body() is not None:
            codes.append(415)
        if getattr(self.view, "throttle_scope", None) and self.method in getattr(
            self.view, "throttle_methods", ("POST",)
        ):
            codes.append(429)
        return codes

    def _is_public(self) -> bool:
        return all(
            isinstance(permission, permissions.AllowAny)
            for permission in self.view.get_permissions()
        )

    def _has_path_parameters(self) -> bool:
        return "{" in self.path

    def _is_paginated_list(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None

    def _has_query_parameters(self) -> bool:
        return any(
            parameter.get("in") == "query"
            for parameter in self._get_parameters()
            if isinstance(parameter, dict)
        )
