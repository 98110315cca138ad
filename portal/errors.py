"""Domain errors. Services raise these; the API's exception handler turns them into HTTP answers.

Each carries a stable ``code`` and a sentence for a person that says what to fix.
"""

from __future__ import annotations


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
