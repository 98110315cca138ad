"""Chasing approval requests nobody decides: a reminder, then an escalation, once each.

A request pending for ``APPROVAL_REMINDER_DAYS`` reminds the reviewers who have not decided, in
the roles still short of approvals (a lead who is away is replaced by their delegate in force,
``governance.selectors.delegation_stand_ins``). One pending for ``APPROVAL_ESCALATION_DAYS`` is
escalated to every governance lead. Each is remembered on the request (``reminded_at``,
``escalated_at``) and audited (``approval.reminded``, ``approval.escalated``); a request
escalated before it was reminded is not reminded afterwards. Runs inside one tenant's scope.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.models import ApprovalRequest, ApprovalState
from governance.selectors import delegation_stand_ins
from governance.services.approvals import approval_audit, approval_counts, requirements_text
from governance.services.notify import notify_approval_chased
from portal.core.audit import Actor
from tenants.models import Membership, PlatformRole, TenantRole, User


def _requesters(approval: ApprovalRequest) -> set[int]:
    ids = (approval.requested_by_id, approval.deployment.requested_by_id)
    return {pk for pk in ids if pk is not None}


def _governance_leads() -> list[User]:
    return list(
        User.objects.filter(platform_role=PlatformRole.GOVERNANCE_LEAD, is_active=True).order_by(
            "username"
        )
    )


def approval_reminder_recipients(
    approval: ApprovalRequest, *, stand_ins: dict[int, Any]
) -> tuple[list[User], dict[str, list[str]]]:
    """The people a reminder of ``approval`` goes to, and for each delegate the absent leads
    they hear for (by username).

    Reviewers who have not decided, in the roles that still lack approvals; never a requester.
    """
    counts = approval_counts(approval)
    short = {role for role, n in approval.requirements.items() if counts.get(role, 0) < n}
    skip = _requesters(approval) | set(approval.decisions.values_list("reviewer_id", flat=True))
    people: dict[int, User] = {}
    standing_in: dict[str, list[str]] = {}
    if "governance_lead" in short:
        for lead in _governance_leads():
            if lead.pk in skip:
                continue
            delegate = stand_ins.get(lead.pk)
            if delegate is None:
                people[lead.pk] = lead
            elif delegate.pk not in skip:
                people[delegate.pk] = delegate
                standing_in.setdefault(delegate.get_username(), []).append(lead.get_username())
    if "tenant_owner" in short:
        owners = Membership.objects.filter(
            role=TenantRole.OWNER, user__is_active=True
        ).select_related("user")
        for membership in owners:
            if membership.user_id not in skip:
                people[membership.user_id] = membership.user
    return sorted(people.values(), key=lambda u: u.get_username()), standing_in


def _chase(
    *,
    actor: Actor,
    approval: ApprovalRequest,
    escalate: bool,
    stand_ins: dict[int, Any],
    now: datetime,
) -> None:
    if escalate:
        people = [u for u in _governance_leads() if u.pk not in _requesters(approval)]
        standing_in: dict[str, list[str]] = {}
        approval.escalated_at = now
        field, action = "escalated_at", "approval.escalated"
    else:
        people, standing_in = approval_reminder_recipients(approval, stand_ins=stand_ins)
        approval.reminded_at = now
        field, action = "reminded_at", "approval.reminded"
    approval.save(update_fields=[field])
    recipients = [u.get_username() for u in people]
    approval_audit(
        actor=actor,
        approval=approval,
        action=action,
        before=None,
        after={"recipients": recipients, "standing_in_for": standing_in},
    )
    counts = approval_counts(approval)
    missing = {
        role: n - counts.get(role, 0)
        for role, n in approval.requirements.items()
        if counts.get(role, 0) < n
    }
    notify_approval_chased(
        approval,
        people=people,
        escalated=escalate,
        needs=requirements_text(missing) or "a decision",
        standing_in=standing_in,
    )


def approvals_chase(*, now: datetime | None = None) -> dict[str, int]:
    """Remind and escalate the tenant's pending requests that are due; returns how many of each."""
    now = now or timezone.now()
    remind_before = now - timedelta(days=settings.APPROVAL_REMINDER_DAYS)
    escalate_before = now - timedelta(days=settings.APPROVAL_ESCALATION_DAYS)
    actor = Actor.system("approval reminders")
    stand_ins = delegation_stand_ins(now=now)
    done = {"reminded": 0, "escalated": 0}
    due = ApprovalRequest.objects.filter(
        Q(created_at__lte=escalate_before) | Q(reminded_at=None, created_at__lte=remind_before),
        state=ApprovalState.PENDING,
        escalated_at=None,
    )
    for approval_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            approval = (
                ApprovalRequest.objects.select_for_update(of=("self",))
                .select_related("deployment", "model_version__model", "requested_by")
                .get(pk=approval_id)
            )
            if approval.state != ApprovalState.PENDING or approval.escalated_at is not None:
                continue  # decided or chased since the list was read
            escalate = approval.created_at <= escalate_before
            if not escalate and approval.reminded_at is not None:
                continue
            _chase(actor=actor, approval=approval, escalate=escalate, stand_ins=stand_ins, now=now)
            done["escalated" if escalate else "reminded"] += 1
    return done
