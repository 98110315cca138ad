"""A WSGI handler for the gateway's paths: Django's own, with only the middleware predictions
need. Sessions, CSRF, messages, clickjacking and the pages' CSP do nothing for a service token
posting JSON, and cost time on every prediction; the URLconf and views are the portal's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

GATEWAY_PREFIX = "/serve/"
GATEWAY_MIDDLEWARE = [
    "portal.core.middleware.TrustedProxyMiddleware",
    "portal.core.middleware.RequestIdMiddleware",
    "portal.core.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
]


class GatewayHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        """Django's chain built from ``GATEWAY_MIDDLEWARE`` instead of ``settings.MIDDLEWARE``:
        each middleware wraps the ones after it, and its ``process_*`` hooks join Django's lists
        in Django's order. The gateway is served over WSGI, so every middleware runs in sync."""
        if is_async:
            raise ImproperlyConfigured("The gateway's handler serves WSGI only.")
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        # Django's view-calling step, private in the stubs: the innermost link of every chain.
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(GATEWAY_MIDDLEWARE):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler
