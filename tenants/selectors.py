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
    return Tenant.objects.filter(active=True, pk__in=member_tenant_ids(principal))


def member_tenant_ids(user: Any) -> list[int]:
    """The ids of the tenants ``user`` is a member of: their memberships, across tenants.

    A list, evaluated here: the cross-tenant read must not run as a subquery of a plain query,
    whose SQL row-level security would limit to the scoped tenant.
    """
    member_of = Membership.objects.dangerously_across_tenants().filter(user_id=user.pk)
    return list(member_of.values_list("tenant_id", flat=True))


def tenant_choices_for(principal: Any) -> list[TenantChoice]:
    """The tenant switcher: each visible tenant with the role that opens it, in the order
    ``tenants_visible_to`` gives. A member without a platform role costs one query (every page
    shows the switcher)."""
    if (
        getattr(principal, "is_authenticated", False)
        and getattr(principal, "token", None) is None
        and not principal.platform_role
    ):
        memberships = (
            Membership.objects.dangerously_across_tenants()
            .filter(user_id=principal.pk, tenant__active=True)
            .select_related("tenant")
            .order_by("tenant__name")
        )
        return [TenantChoice(tenant=m.tenant, role=m.role) for m in memberships]
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
