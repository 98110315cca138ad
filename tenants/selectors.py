"""Reads about tenants and people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from tenants.models import Membership, PlatformRole, Tenant


@dataclass(frozen=True)
class TenantChoice:
    tenant: Tenant
    role: str  # the tenant role, or the platform role that grants access


def tenants_visible_to(principal: Any) -> QuerySet[Tenant]:
    """Tenants a caller may open: platform roles see all of them, members their own, tokens one."""
    if not getattr(principal, "is_authenticated", False):
        return Tenant.objects.none()
    token = getattr(principal, "token", None)
    if token is not None:
        return Tenant.objects.filter(pk=token.tenant_id, active=True)
    if principal.platform_role == PlatformRole.PLATFORM_ADMIN:
        return Tenant.objects.all()
    if principal.platform_role:
        return Tenant.objects.filter(active=True)
    # A person's own memberships, across tenants: this is how they find their tenants.
    member_of = Membership.objects.dangerously_across_tenants().filter(user_id=principal.pk)
    # Evaluated here: the cross-tenant read must not run as a subquery of a plain one, whose SQL
    # row-level security would limit to the scoped tenant.
    tenant_ids = list(member_of.values_list("tenant_id", flat=True))
    return Tenant.objects.filter(active=True, pk__in=tenant_ids)


def tenant_choices_for(principal: Any) -> list[TenantChoice]:
    """The tenant switcher: each visible tenant with the role that opens it."""
    tenants = list(tenants_visible_to(principal))
    if getattr(principal, "token", None) is not None or not tenants:
        return [TenantChoice(tenant=t, role="token") for t in tenants]
    roles = dict(
        Membership.objects.dangerously_across_tenants()
        .filter(user_id=principal.pk)
        .values_list("tenant_id", "role")
    )
    return [
        TenantChoice(tenant=t, role=roles.get(t.pk) or principal.platform_role) for t in tenants
    ]
