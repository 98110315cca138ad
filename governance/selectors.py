"""Reads of the audit trail."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from governance.models import AuditEvent, PolicyVersion
from tenants.access import platform_role_of
from tenants.models import PlatformRole
from tenants.selectors import tenants_visible_to

POLICY_PUBLISHERS = {PlatformRole.GOVERNANCE_LEAD, PlatformRole.PLATFORM_ADMIN}


def audit_events_across_tenants() -> QuerySet[AuditEvent]:
    """The platform-wide trail, newest first (``governance.filters.AuditFilter`` filters it).
    Callers check for a governance or admin role."""
    return (
        AuditEvent.objects.dangerously_across_tenants()
        .select_related("tenant")
        .order_by("-created_at", "-id")
    )


def policy_versions_visible_to(principal: Any) -> QuerySet[PolicyVersion]:
    """Every version for governance; for others, the policies for every tenant and those of the
    tenants they can open, so a list never names another unit."""
    versions = PolicyVersion.objects.order_by("name", "-version")
    if platform_role_of(principal) in POLICY_PUBLISHERS:
        return versions
    mine = set(tenants_visible_to(principal).values_list("slug", flat=True))
    names = {
        name
        for name, tenants in versions.values_list("name", "tenants")
        if not tenants or mine & set(tenants)
    }
    return versions.filter(name__in=names)
