"""Navigation for every page: the tenant switcher and the links each role may use."""

from __future__ import annotations

from django.http import HttpRequest

from tenants.access import platform_role_of
from tenants.models import PlatformRole
from tenants.selectors import tenant_choices_for


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("tenant") if match else None
    choices = tenant_choices_for(user)
    role = platform_role_of(user)
    return {
        "nav_tenants": choices,
        "nav_current_tenant": next((c for c in choices if c.tenant.slug == current), None),
        "nav_platform_role": PlatformRole(role).label if role else "",
        "nav_is_platform_admin": role == PlatformRole.PLATFORM_ADMIN,
    }
