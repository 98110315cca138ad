"""Pages and endpoints that belong to the portal as a whole."""

from __future__ import annotations

import sys

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView

from chargeback.views.finance import month_close_region
from portal.api.errors import (
    DATABASE_ERRORS,
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_BODY,
    NOT_FOUND_BODY,
)
from portal.insights.home import FINANCE_MONTHS, home_for
from portal.ratelimit import Rate, rate_limit_hit
from tenants.selectors import tenant_choices_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The sections of every role the person holds (see ``portal.insights.home``)."""
    if region := month_close_region(request, months=FINANCE_MONTHS):
        return region
    sections = home_for(request.user, tenant_choices_for(request.user))
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
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.content_security_policy = settings.CONTENT_SECURITY_POLICY.replace(
            "style-src 'self'", "style-src 'self' 'unsafe-inline'"
        )
        return response


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


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/serve/"))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(NOT_FOUND_BODY, status=404)
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
    if _wants_json(request):
        return JsonResponse({"code": "permission_denied", "detail": message}, status=403)
    return render(
        request, "portal/error.html", {"title": "Not allowed", "message": message}, status=403
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if isinstance(sys.exception(), DATABASE_ERRORS):
        return _database_unavailable(request)
    message = "Something went wrong on our side. The error is logged."
    if _wants_json(request):
        return JsonResponse({"code": "server_error", "detail": message}, status=500)
    return render(
        request, "portal/error.html", {"title": "Server error", "message": message}, status=500
    )


def _database_unavailable(request: HttpRequest) -> HttpResponse:
    """A 503 that needs no database: the page renders without the request's context processors
    (they read the user and their units)."""
    if _wants_json(request):
        response: HttpResponse = JsonResponse(DATABASE_UNAVAILABLE_BODY, status=503)
    else:
        content = render_to_string(
            "portal/error.html",
            {"title": "Try again in a minute", "message": DATABASE_UNAVAILABLE_BODY["detail"]},
        )
        response = HttpResponse(content, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response
