"""Reviewers' verdicts, withdrawn and expired requests, and what each does to the deployment.

A rollout approval that is approved lets its deployment roll out; rejected, withdrawn, expired
or superseded, it cancels the deployment waiting for it. A review of a live deployment keeps it
serving unless reviewers reject it, which takes it out of the traffic.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from governance.models import ApprovalPurpose, ApprovalRequest, ApprovalState
from governance.models.approvals import OPEN_APPROVAL_STATES
from governance.services.approvals import (
    approval_close,
    approval_reviewer_check,
    approval_stale_reason,
    approval_supersede,
    approval_verdict_record,
    certification_record,
)
from governance.services.notify import notify_approval_decided
from portal.core.audit import Actor
from portal.core.errors import Conflict, InvalidRequest
from portal.deployments.rollout import revision_withdraw
from portal.deployments.services import deployment_transition
from tenants.models import User


def approval_supersede_with_deployment(
    *, actor: Actor, approval: ApprovalRequest, reason: str
) -> None:
    """Supersede an open approval and cancel the deployment waiting for it (inside a transaction)."""
    approval_supersede(actor=actor, approval=approval, reason=reason)
    if approval.purpose == ApprovalPurpose.REVIEW:
        return  # the live deployment keeps serving; a new review can be asked for
    deployment_transition(
        actor=actor,
        deployment=approval.deployment,
        to="cancelled",
        reason=f"The approval no longer applies: {reason}. Request the deployment again.",
    )


def approval_decide(
    *, actor: Actor, reviewer: User, approval: ApprovalRequest, verdict: str, comment: str = ""
) -> ApprovalRequest:
    """Record one reviewer's verdict; the deployment moves on when the policy is satisfied.

    Only someone who may decide is heard. When the approval no longer covers its request (see
    ``approval_stale_reason``), it is superseded (that change is kept) and the verdict is refused
    with a 409.
    """
    approval_reviewer_check(reviewer, approval)
    if approval.model_version.tampered:
        raise InvalidRequest(
            "The artifact files of this version changed in MLflow after the portal recorded "
            "them, so it cannot be approved; register the model again as a new version."
        )
    reason = _supersede_if_stale(actor=actor, approval=approval)
    if reason:
        raise Conflict(
            f"This approval no longer applies ({reason}); the unit must request the deployment "
            "again."
        )
    return _record_verdict(
        actor=actor, reviewer=reviewer, approval=approval, verdict=verdict, comment=comment
    )


@transaction.atomic
def _supersede_if_stale(*, actor: Actor, approval: ApprovalRequest) -> str:
    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    reason = approval_stale_reason(approval) if approval.is_open else ""
    if reason:
        approval_supersede_with_deployment(actor=actor, approval=approval, reason=reason)
    return reason


@transaction.atomic
def _record_verdict(
    *, actor: Actor, reviewer: User, approval: ApprovalRequest, verdict: str, comment: str
) -> ApprovalRequest:
    approval = approval_verdict_record(
        actor=actor, reviewer=reviewer, approval=approval, verdict=verdict, comment=comment
    )
    decided = approval.state in (ApprovalState.APPROVED, ApprovalState.REJECTED)
    if decided and approval.purpose == ApprovalPurpose.REVIEW:
        if approval.state == ApprovalState.REJECTED:
            revision_withdraw(
                actor=actor,
                deployment=approval.deployment,
                reason=f"Reviewers rejected it: {comment}" if comment else "Reviewers rejected it.",
            )
    elif decided:
        approved = approval.state == ApprovalState.APPROVED
        deployment_transition(
            actor=actor,
            deployment=approval.deployment,
            to="approved" if approved else "rejected",
            reason=f"{'Approved' if approved else 'Rejected'} by reviewers.",
        )
    if approval.state == ApprovalState.APPROVED:
        certification_record(actor=actor, approval=approval)
    notify_approval_decided(approval, verdict=verdict, reviewer=reviewer, comment=comment)
    return approval


@transaction.atomic
def approval_withdraw(*, actor: Actor, approval: ApprovalRequest) -> ApprovalRequest:
    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if not approval.is_open:
        raise Conflict(
            f"This request is {approval.get_state_display().lower()}; it cannot be withdrawn."
        )
    approval_close(
        actor=actor, approval=approval, state=ApprovalState.WITHDRAWN, action="approval.withdrawn"
    )
    if approval.purpose == ApprovalPurpose.REVIEW:
        return approval
    deployment_transition(
        actor=actor,
        deployment=approval.deployment,
        to="cancelled",
        reason="The request was withdrawn.",
    )
    return approval


def approvals_expire(*, now: datetime | None = None) -> int:
    """Expire open approvals past their deadline (runs inside one tenant's scope)."""
    now = now or timezone.now()
    actor = Actor.system("approval expiry")
    expired = 0
    for approval_id in ApprovalRequest.objects.filter(
        state__in=OPEN_APPROVAL_STATES, expires_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            approval = ApprovalRequest.objects.select_for_update().get(pk=approval_id)
            if not approval.is_open:
                continue
            approval_close(
                actor=actor,
                approval=approval,
                state=ApprovalState.EXPIRED,
                action="approval.expired",
            )
            expired += 1
            if approval.purpose == ApprovalPurpose.REVIEW:
                continue  # the live deployment keeps serving; its incident stays open
            deployment_transition(
                actor=actor,
                deployment=approval.deployment,
                to="cancelled",
                reason="Nobody decided on the request before it expired.",
            )
    return expired
