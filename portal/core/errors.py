"""Domain errors. Services raise these; the API's exception handler turns them into HTTP answers.

Each carries a stable ``code`` and a sentence for a person that says what to fix.
"""

from __future__ import annotations

import csv
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent


class PortalError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(PortalError):
    status_code = 400
    code = "invalid"


class NotAllowed(PortalError):
    status_code = 403
    code = "permission_denied"


class NotFound(PortalError):
    status_code = 404
    code = "not_found"


class Conflict(PortalError):
    status_code = 409
    code = "conflict"


class Unauthenticated(PortalError):
    status_code = 401
    code = "authentication_failed"


class PayloadTooLarge(PortalError):
    status_code = 413
    code = "too_large"


def request_error(exc: BaseException, *, decoding_body: bool = False) -> PortalError | None:
    """The client's mistake that ``exc`` stands for, or None when it is not the client's doing.

    The API's exception handler, the gateway and the middleware that keeps /api/ and /serve/ in
    JSON all read a bad request through this one mapping: a body over the upload limit is a 413;
    JSON nested past Python's recursion limit and other malformed requests are a 400. CSV that the
    csv module cannot read, bytes that are not UTF-8 and JSON that does not parse are a 400 only
    when ``decoding_body`` says they were raised decoding the request's body (elsewhere they are
    the portal's own failure, say reading an answer from MLflow).
    """
    if isinstance(exc, PortalError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes; "
            "send a smaller one."
        )
    if isinstance(exc, TooManyFieldsSent):
        return InvalidRequest(
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields; "
            "send fewer."
        )
    if isinstance(exc, RecursionError):
        return InvalidRequest(
            "The body nests objects or lists too deeply to be read; keep it within a few hundred "
            "levels."
        )
    if isinstance(exc, SuspiciousOperation):
        return InvalidRequest("The request is malformed and was refused.")
    if not decoding_body:
        return None
    if isinstance(exc, csv.Error):
        return InvalidRequest(
            f"The CSV body cannot be read ({exc}); send RFC 4180 CSV with fields of at most "
            f"{csv.field_size_limit():,} characters."
        )
    if isinstance(exc, UnicodeError):
        return InvalidRequest("The body is not UTF-8 text; send it encoded as UTF-8.")
    if isinstance(exc, json.JSONDecodeError):
        return InvalidRequest(f"The body is not valid JSON ({exc}); send a JSON document.")
    return None
