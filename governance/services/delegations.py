"""Delegations: a governance lead names another governance lead to stand in for a period.

Any governance lead may decide a request that needs governance leads, so a delegation does not
change who may decide; it changes who is chased. While it is in force, the approval reminders
that would go to the absent lead go to the delegate (``governance.services.reminders``).
Escalations still reach every lead. Created and ended by the lead (a platform admin may end one
too); both are audited on the platform's chain.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from governance.models import Delegation
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest, NotAllowed
from tenants.access import platform_role_of
from tenants.models import PlatformRole, User


def _snapshot(delegation: Delegation) -> dict:
    return {
        "lead": delegation.lead.get_username(),
        "delegate": delegation.delegate.get_username(),
        "starts_at": delegation.starts_at,
        "ends_at": delegation.ends_at,
        "note": delegation.note,
    }


@transaction.atomic
def delegation_create(
    *,
    actor: Actor,
    lead: User,
    delegate: User,
    starts_at: datetime | None,
    ends_at: datetime,
    note: str = "",
    now: datetime | None = None,
) -> Delegation:
    """``lead`` names ``delegate`` for the period; a start in the past counts from now."""
    now = now or timezone.now()
    if platform_role_of(lead) != PlatformRole.GOVERNANCE_LEAD:
        raise NotAllowed("Only governance leads name a delegate.")
    if delegate.pk == lead.pk:
        raise InvalidRequest("Name someone else as your delegate, not yourself.")
    if delegate.platform_role != PlatformRole.GOVERNANCE_LEAD or not delegate.is_active:
        raise InvalidRequest(
            f"{delegate.get_username()} is not an active governance lead; a delegate must be one."
        )
    starts_at = max(starts_at or now, now)
    if ends_at <= now:
        raise InvalidRequest("The period is in the past; choose an end in the future.")
    if ends_at <= starts_at:
        raise InvalidRequest("The period ends before it starts; choose an end after the start.")
    # Locks the lead's row so two delegations of one lead are created one after the other.
    User.objects.select_for_update().filter(pk=lead.pk).first()
    overlapping = Delegation.objects.filter(
        lead=lead, ended_at=None, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).first()
    if overlapping is not None:
        raise Conflict(
            f"You already have a delegate for part of that period "
            f"({overlapping.delegate.get_username()}, {overlapping.starts_at:%Y-%m-%d %H:%M} to "
            f"{overlapping.ends_at:%Y-%m-%d %H:%M} UTC); end that delegation first."
        )
    delegation = Delegation.objects.create(
        lead=lead,
        delegate=delegate,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note,
        created_by_label=actor.label,
    )
    audit_record(
        actor=actor,
        action="delegation.created",
        object_type="delegation",
        object_id=delegation.pk,
        tenant_id=None,
        after=_snapshot(delegation),
    )
    return delegation


@transaction.atomic
def delegation_end(*, actor: Actor, delegation: Delegation, by: User) -> Delegation:
    """End a delegation that is in force or upcoming, now; its lead or a platform admin."""
    delegation = (
        Delegation.objects.select_for_update(of=("self",))
        .select_related("lead", "delegate")
        .get(pk=delegation.pk)
    )
    if by.pk != delegation.lead_id and platform_role_of(by) != PlatformRole.PLATFORM_ADMIN:
        raise NotAllowed("Only the lead who named the delegate, or a platform admin, ends it.")
    now = timezone.now()
    if delegation.ended_at is not None or delegation.ends_at <= now:
        raise Conflict("This delegation is over already.")
    delegation.ended_at, delegation.ended_by_label = now, actor.label
    delegation.save(update_fields=["ended_at", "ended_by_label"])
    audit_record(
        actor=actor,
        action="delegation.ended",
        object_type="delegation",
        object_id=delegation.pk,
        tenant_id=None,
        before={"state": "in force" if delegation.starts_at <= now else "upcoming"},
        after={**_snapshot(delegation), "ended_at": now},
    )
    return delegation
