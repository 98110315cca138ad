"""Reads of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from governance.models import AuditEvent, PolicyVersion
from tenants.access import GOVERNANCE_ROLES, platform_role_of
from tenants.selectors import tenants_visible_to

POLICY_PUBLISHERS = GOVERNANCE_ROLES


def audit_events_across_tenants(
    *,
    tenant_slug: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The platform-wide trail, newest first. Callers check for a governance or admin role."""
    events = AuditEvent.objects.dangerously_across_tenants().select_related("tenant")
    if tenant_slug == "platform":
        events = events.filter(tenant__isnull=True)
    elif tenant_slug:
        events = events.filter(tenant__slug=tenant_slug)
    if action:
        events = (
            events.filter(action__startswith=action)
            if action.endswith(".")
            else events.filter(action=action)
        )
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if actor:
        events = events.filter(actor_label=actor)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events.order_by("-created_at", "-id")


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
