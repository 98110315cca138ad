"""What a caller may do in a tenant: capabilities from tenant roles, platform roles and token scopes.

A capability is a word a view asks for per HTTP method:

    read      see the tenant's catalog, deployments, drift, members and tokens
    write     change catalog metadata, request deployments
    deploy    roll out and roll back
    predict   call the inference gateway
    manage    manage members, service tokens and webhook endpoints
    govern    classify risk, decide approvals (platform governance leads)
    billing   read and act on chargeback statements (platform finance)
    administer  change the tenant itself (platform admins)

A caller with no capability in a tenant is answered 404, exactly as if the tenant did not exist;
a caller with some capabilities but not the one asked for is answered 403.

Who is asking: ``person_of(request)`` is the person signed in (None for a service token), and
``token_of(principal)`` the service token a caller signed in with (None for a person).
"""

from __future__ import annotations

from typing import Any

from portal.core.errors import NotAllowed
from tenants.models import Membership, PlatformRole, ServiceToken, Tenant, TenantRole, User

ALL_CAPABILITIES = frozenset(
    {"read", "write", "deploy", "predict", "manage", "govern", "billing", "administer"}
)

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    TenantRole.VIEWER: frozenset({"read"}),
    TenantRole.ENGINEER: frozenset({"read", "write", "deploy", "predict"}),
    TenantRole.OWNER: frozenset({"read", "write", "deploy", "predict", "manage"}),
}

# Platform roles that work across units: governance's (the approval queue, policies, the audit
# trail, platform KPIs) and finance's (statements, month closes, price health, rate card history).
GOVERNANCE_ROLES = frozenset({PlatformRole.GOVERNANCE_LEAD, PlatformRole.PLATFORM_ADMIN})
FINANCE_ROLES = frozenset({PlatformRole.FINANCE, PlatformRole.PLATFORM_ADMIN})

PLATFORM_CAPABILITIES: dict[str, frozenset[str]] = {
    PlatformRole.GOVERNANCE_LEAD: frozenset({"read", "govern"}),
    PlatformRole.FINANCE: frozenset({"billing"}),
    PlatformRole.PLATFORM_ADMIN: ALL_CAPABILITIES,
}


def tenant_capabilities(principal: Any, tenant: Tenant) -> frozenset[str]:
    """Capabilities of ``principal`` (a user or a token principal) in ``tenant``.

    Runs inside the tenant's scope (the membership lookup goes through the scoped manager).
    """
    if not getattr(principal, "is_authenticated", False):
        return frozenset()
    token = token_of(principal)
    if token is not None:
        if token.tenant_id != tenant.pk or not tenant.active:
            return frozenset()
        return frozenset(token.scopes)
    platform = PLATFORM_CAPABILITIES.get(principal.platform_role, frozenset())
    if not tenant.active:
        return platform if principal.platform_role == PlatformRole.PLATFORM_ADMIN else frozenset()
    role = Membership.objects.filter(user_id=principal.pk).values_list("role", flat=True).first()
    return platform | ROLE_CAPABILITIES.get(role or "", frozenset())


def platform_role_of(principal: Any) -> str:
    """The platform role of a signed-in person; tokens and anonymous callers have none."""
    if not getattr(principal, "is_authenticated", False) or token_of(principal) is not None:
        return ""
    return principal.platform_role


def token_of(principal: Any) -> ServiceToken | None:
    """The service token a caller (``request.user``) signed in with; None for anyone else."""
    return getattr(principal, "token", None)


def person_of(request: Any) -> User | None:
    """The person signed in behind ``request``; None for a service token or an anonymous caller."""
    user = request.user
    if not getattr(user, "is_authenticated", False) or token_of(user) is not None:
        return None
    return user


def person_required(request: Any, *, why: str) -> User:
    """``person_of(request)``, for what only a person may do; a 403 saying ``why`` otherwise."""
    person = person_of(request)
    if person is None:
        raise NotAllowed(why)
    return person


def person_answerable_for(request: Any) -> User | None:
    """The person signed in, or for a service token the person who created it, so nobody
    approves what their own pipeline asked for."""
    token = token_of(request.user)
    return token.created_by if token is not None else person_of(request)
