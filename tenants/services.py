"""Changes to tenants, memberships, platform roles and service tokens. Each one is audited.

Functions that touch tenant-owned rows run inside the caller's ``tenant_scope``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.core.audit import Actor, apply_updates, audit_record
from portal.core.errors import Conflict, InvalidRequest, NotAllowed, Unauthenticated
from tenants.models import Membership, ServiceToken, Tenant, TenantRole, TokenScope, User
from tenants.revocations import revocation_announce

TOKEN_PREFIX_LENGTH = 12  # "mlp_" and eight characters
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_TOKEN_LIFETIME = timedelta(days=366)

# --- Tenants ------------------------------------------------------------------------------------

TENANT_FIELDS = ("name", "cost_center", "active")


@transaction.atomic
def tenant_create(*, actor: Actor, slug: str, name: str, cost_center: str = "") -> Tenant:
    if Tenant.objects.filter(slug=slug).exists():
        raise Conflict(f"A tenant with the slug '{slug}' already exists; choose another slug.")
    tenant = Tenant(slug=slug, name=name, cost_center=cost_center)
    tenant.full_clean()
    tenant.save()
    audit_record(
        actor=actor,
        action="tenant.created",
        object_type="tenant",
        object_id=tenant.pk,
        tenant_id=tenant.pk,
        after={"slug": slug, "name": name, "cost_center": cost_center},
    )
    return tenant


@transaction.atomic
def tenant_update(*, actor: Actor, tenant: Tenant, **updates: object) -> Tenant:
    before, after = apply_updates(
        tenant,
        editable=TENANT_FIELDS,
        updates=updates,
        refusal="These tenant fields cannot be changed",
    )
    if not after:
        return tenant
    tenant.full_clean()
    tenant.save(update_fields=[*after, "updated_at"])
    action = "tenant.updated"
    if "active" in after and len(after) == 1:
        action = "tenant.activated" if after["active"] else "tenant.deactivated"
    if after.get("active") is False:
        transaction.on_commit(revocation_announce)  # its tokens stop working everywhere at once
    audit_record(
        actor=actor,
        action=action,
        object_type="tenant",
        object_id=tenant.pk,
        tenant_id=tenant.pk,
        before=before,
        after=after,
    )
    return tenant


# --- Memberships --------------------------------------------------------------------------------


def _check_role(role: str) -> None:
    if role not in TenantRole.values:
        raise InvalidRequest(
            f"'{role}' is not a tenant role; use one of {', '.join(TenantRole.values)}."
        )


def _membership_snapshot(membership: Membership) -> dict:
    return {"user": membership.user.get_username(), "role": membership.role}


@transaction.atomic
def membership_add(*, actor: Actor, tenant: Tenant, user: User, role: str) -> Membership:
    _check_role(role)
    if Membership.objects.filter(user=user).exists():
        raise Conflict(
            f"{user.get_username()} is already a member of {tenant.name}; change their role instead."
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    except IntegrityError:
        raise Conflict(f"{user.get_username()} is already a member of {tenant.name}.") from None
    audit_record(
        actor=actor,
        action="membership.created",
        object_type="membership",
        object_id=membership.pk,
        tenant_id=tenant.pk,
        after=_membership_snapshot(membership),
    )
    return membership


def _ensure_an_owner_remains(membership: Membership) -> None:
    if membership.role != TenantRole.OWNER:
        return
    other_owners = Membership.objects.filter(role=TenantRole.OWNER).exclude(pk=membership.pk)
    if not other_owners.exists():
        raise Conflict("A tenant needs at least one owner; make someone else an owner first.")


@transaction.atomic
def membership_change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    _check_role(role)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.role == role:
        return membership
    if role != TenantRole.OWNER:
        _ensure_an_owner_remains(membership)
    before = _membership_snapshot(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="membership.role_changed",
        object_type="membership",
        object_id=membership.pk,
        tenant_id=membership.tenant_id,
        before=before,
        after=_membership_snapshot(membership),
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Actor, membership: Membership) -> None:
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    _ensure_an_owner_remains(membership)
    before = _membership_snapshot(membership)
    membership_id, tenant_id = membership.pk, membership.tenant_id
    membership.delete()
    audit_record(
        actor=actor,
        action="membership.deleted",
        object_type="membership",
        object_id=membership_id,
        tenant_id=tenant_id,
        before=before,
    )


# --- Platform roles -----------------------------------------------------------------------------


@transaction.atomic
def user_set_platform_role(*, actor: Actor, user: User, platform_role: str) -> User:
    if platform_role == user.platform_role:
        return user
    before = {"platform_role": user.platform_role}
    user.platform_role = platform_role
    user.full_clean(exclude=["password"])
    # Platform admins use the Django admin; nobody else is staff.
    user.is_staff = user.is_superuser = user.is_platform_admin
    user.save(update_fields=["platform_role", "is_staff", "is_superuser"])
    audit_record(
        actor=actor,
        action="user.platform_role_changed",
        object_type="user",
        object_id=user.pk,
        tenant_id=None,
        before=before,
        after={"platform_role": platform_role},
    )
    return user


# --- Service tokens -----------------------------------------------------------------------------


def _hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is as strong as a slow one and keeps auth cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def _token_snapshot(token: ServiceToken) -> dict:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


@transaction.atomic
def token_create(
    *,
    actor: Actor,
    tenant: Tenant,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    created_by: User | None,
) -> tuple[ServiceToken, str]:
    """Create a token and return it with its secret, which is never stored and never shown again."""
    unknown = sorted(set(scopes) - set(TokenScope.values))
    if unknown or not scopes:
        raise InvalidRequest(
            f"Scopes must be a non-empty subset of {', '.join(TokenScope.values)}"
            + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
        )
    now = timezone.now()
    if expires_at is not None and not now < expires_at <= now + MAX_TOKEN_LIFETIME:
        raise InvalidRequest("expires_at must be in the future and at most 366 days from now.")
    prefix = "mlp_" + secrets.token_hex(4)
    raw = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ServiceToken.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        secret_hash=_hash_token(raw),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    audit_record(
        actor=actor,
        action="token.created",
        object_type="service_token",
        object_id=token.pk,
        tenant_id=tenant.pk,
        after=_token_snapshot(token),
    )
    return token, raw


@transaction.atomic
def token_revoke(*, actor: Actor, token: ServiceToken) -> ServiceToken:
    token = ServiceToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at:
        return token
    before = _token_snapshot(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    transaction.on_commit(revocation_announce)
    audit_record(
        actor=actor,
        action="token.revoked",
        object_type="service_token",
        object_id=token.pk,
        tenant_id=token.tenant_id,
        before=before,
        after=_token_snapshot(token),
    )
    return token


def token_authenticate(*, raw: str) -> ServiceToken:
    """The active token ``raw`` stands for, or ``Unauthenticated`` with the reason."""
    if not raw.startswith("mlp_") or len(raw) < TOKEN_PREFIX_LENGTH + 2:
        raise Unauthenticated("The token is not valid.")
    prefix = raw[:TOKEN_PREFIX_LENGTH]
    # Across tenants on purpose: the token is what tells us the tenant.
    token = (
        ServiceToken.objects.dangerously_across_tenants()
        .select_related("tenant")
        .filter(prefix=prefix)
        .first()
    )
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_token(raw)):
        raise Unauthenticated("The token is not valid.")
    if token.revoked_at:
        raise Unauthenticated("This token has been revoked.")
    now = timezone.now()
    if token.expires_at and token.expires_at <= now:
        raise Unauthenticated("This token has expired; ask a tenant owner for a new one.")
    if not token.tenant.active:
        raise Unauthenticated("The tenant of this token is deactivated.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ServiceToken.objects.dangerously_across_tenants().filter(pk=token.pk).update(
            last_used_at=now
        )
        token.last_used_at = now
    return token


def token_role_allows(*, actor_capabilities: frozenset[str], scopes: list[str]) -> None:
    """A person may not mint a token with powers they lack themselves."""
    missing = sorted(set(scopes) - actor_capabilities)
    if missing:
        raise NotAllowed(f"You cannot grant scopes you do not hold yourself: {', '.join(missing)}.")
