"""Navigation for every page: the tenant switcher and the links each role may use."""

from __future__ import annotations

from django.http import HttpRequest

from tenants.access import FINANCE_ROLES, GOVERNANCE_ROLES, platform_role_of
from tenants.models import PlatformRole
from tenants.selectors import tenant_choices_for

# URL name prefixes to the navigation link they belong under, for aria-current.
SECTIONS = (
    ("approval-", "approvals"),
    ("policy-", "policies"),
    ("audit-", "audit"),
    ("incident-", "incidents"),
    ("finance-", "finance"),
    ("price-", "prices"),
    ("inventory", "inventory"),
)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("tenant") if match else None
    choices = tenant_choices_for(user)
    role = platform_role_of(user)
    url_name = (match.url_name or "") if match else ""
    return {
        "nav_tenants": choices,
        "nav_current_tenant": next((c for c in choices if c.tenant.slug == current), None),
        "nav_platform_role": PlatformRole(role).label if role else "",
        "nav_is_platform_admin": role == PlatformRole.PLATFORM_ADMIN,
        "nav_is_governance": role in GOVERNANCE_ROLES,
        "nav_is_finance": role in FINANCE_ROLES,
        "nav_section": next((s for p, s in SECTIONS if url_name.startswith(p)), ""),
    }
