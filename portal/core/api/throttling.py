"""API throttles built on the shared rate limiter, answering 429 with ``Retry-After``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from portal.core.ratelimit import Rate, rate_limit_hit


class ScopedThrottle(BaseThrottle):
    """Limits the methods in ``throttle_methods`` of a view per caller, at the view's rate."""

    def __init__(self) -> None:
        self.wait_seconds: int | None = None

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        methods = getattr(view, "throttle_methods", ("POST",))
        if not scope or request.method not in methods:
            return True
        rates: dict[str, str] = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        rate = Rate.parse(rates[scope])
        caller = f"user:{request.user.pk}" if request.user.pk else f"ip:{self.get_ident(request)}"
        token = getattr(request.auth, "prefix", None)
        if token:
            caller = f"token:{token}"
        self.wait_seconds = rate_limit_hit(key=f"{scope}:{caller}", rate=rate)
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds
