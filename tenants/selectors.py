"""Reads about tenants and people."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from tenants.access import platform_role_of, token_of
from tenants.models import Membership, PlatformRole, Tenant

R = TypeVar("R", bound=Model)


@dataclass(frozen=True)
class TenantChoice:
    tenant: Tenant
    role: str  # the tenant role, or the platform role that grants access


def tenants_visible_to(principal: Any) -> QuerySet[Tenant]:
    """Tenants a caller may open: platform roles see all of them, members their own, tokens one."""
    if not getattr(principal, "is_authenticated", False):
        return Tenant.objects.none()
    token = token_of(principal)
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
        and token_of(principal) is None
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
    if token_of(principal) is not None or not tenants:
        return [TenantChoice(tenant=t, role="token") for t in tenants]
    roles = dict(
        Membership.objects.dangerously_across_tenants()
        .filter(user_id=principal.pk)
        .values_list("tenant_id", "role")
    )
    return [
        TenantChoice(tenant=t, role=roles.get(t.pk) or principal.platform_role) for t in tenants
    ]


def unit_records_visible_to(
    principal: Any, records: QuerySet[R], *, readers: Collection[str]
) -> QuerySet[R]:
    """Which units' ``records`` a platform-wide list shows ``principal``: every unit's to the
    platform roles in ``readers``; its own active unit's to a service token that may read; the
    active units' they belong to to anyone else. ``records`` is a cross-tenant read of a model
    with a ``tenant``."""
    if platform_role_of(principal) in readers:
        return records
    token = token_of(principal)
    if token is not None:
        if "read" not in token.scopes:
            return records.none()
        return records.filter(tenant_id=token.tenant_id, tenant__active=True)
    member_of = Membership.objects.dangerously_across_tenants().filter(user_id=principal.pk)
    return records.filter(tenant_id__in=member_of.values("tenant_id"), tenant__active=True)
