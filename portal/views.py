"""Pages and endpoints that belong to the portal as a whole."""

from __future__ import annotations

import sys
import threading
from typing import ClassVar

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from chargeback.views.finance import month_close_region
from portal.core.downloads import content_disposition
from portal.core.http_errors import (
    DATABASE_ERRORS,
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_BODY,
    json_error,
    json_error_for_status,
    wants_json,
)
from portal.core.ratelimit import Rate, rate_limit_hit
from portal.insights.home import FINANCE_MONTHS, home_for
from tenants.selectors import tenant_choices_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The sections of every role the person holds (see ``portal.insights.home``)."""
    if region := month_close_region(request, months=FINANCE_MONTHS):
        return region
    sections = home_for(request, tenant_choices_for(request.user))
    return render(request, "portal/home.html", {"home": sections, "choices": sections.choices})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and docker-compose."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception:
        return JsonResponse({"status": "database unavailable"}, status=503)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the app's own static files; it sets a few inline styles as it renders."""

    @extend_schema(exclude=True)
    @method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, built once per process (and API version) and then served as built.

    drf-spectacular's generator keeps state in module globals while it runs, so two first calls
    at once in a fresh process could each see the other's half-built state and answer 500. A
    lock makes the first call build the schema and the others wait for it.
    """

    _lock = threading.Lock()
    _built: ClassVar[dict[tuple[str | None, str | None], dict]] = {}

    def _get_schema_response(self, request: Request) -> Response:
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, translation.get_language())
        with self._lock:
            schema = self._built.get(key)
            if schema is None:
                generator = self.generator_class(
                    urlconf=self.urlconf, api_version=version, patterns=self.patterns
                )
                schema = generator.get_schema(request=request, public=self.serve_public)
                self._built[key] = schema
        filename = self._get_filename(request, version)
        return Response(
            data=schema,
            headers={"Content-Disposition": content_disposition(filename, inline=True)},
        )


class LoginView(auth_views.LoginView):
    """Django's login, throttled per address and per username: 429 with Retry-After past the rate."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        rate = Rate.parse(settings.LOGIN_THROTTLE)
        address = request.META.get("REMOTE_ADDR", "unknown")
        username = request.POST.get("username", "").strip().lower()[:150]
        wait = rate_limit_hit(key=f"login:ip:{address}", rate=Rate(rate.count * 3, rate.seconds))
        wait = wait or rate_limit_hit(key=f"login:user:{username}", rate=rate)
        if wait:
            response = render(
                request,
                self.template_name,
                {"form": self.get_form(), "throttled_for": wait},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return json_error_for_status(request, 404)
    return render(
        request,
        "portal/error.html",
        {
            "title": "Not found",
            "message": "There is nothing here, or you do not have access to it.",
        },
        status=404,
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = (
        str(exception) if exception and str(exception) else "You do not have permission to do this."
    )
    if wants_json(request):
        return json_error(request, 403, "permission_denied", message)
    return render(
        request, "portal/error.html", {"title": "Not allowed", "message": message}, status=403
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if isinstance(sys.exception(), DATABASE_ERRORS):
        return _database_unavailable(request)
    if wants_json(request):
        return json_error_for_status(request, 500)
    message = "Something went wrong on our side. The error is logged."
    return render(
        request, "portal/error.html", {"title": "Server error", "message": message}, status=500
    )


def _database_unavailable(request: HttpRequest) -> HttpResponse:
    """A 503 that needs no database: the page renders without the request's context processors
    (they read the user and their units)."""
    if wants_json(request):
        return json_error_for_status(request, 503)
    content = render_to_string(
        "portal/error.html",
        {"title": "Try again in a minute", "message": DATABASE_UNAVAILABLE_BODY["detail"]},
    )
    response = HttpResponse(content, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response
