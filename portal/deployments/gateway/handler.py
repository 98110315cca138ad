"""A WSGI handler for the gateway's paths: Django's own, with only the middleware predictions
need. Sessions, CSRF, messages, clickjacking and the pages' CSP do nothing for a service token
posting JSON, and cost time on every prediction; the URLconf and views are the portal's own."""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

GATEWAY_PREFIX = "/serve/"
GATEWAY_MIDDLEWARE = [
    "portal.core.middleware.TrustedProxyMiddleware",
    "portal.core.middleware.RequestIdMiddleware",
    "portal.core.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
]


class GatewayHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=GATEWAY_MIDDLEWARE):
            super().load_middleware(is_async=is_async)
