"""Approval requests as records: who may decide them, the verdicts, closing them, certification.

An approval is bound to the deployment's model version, that version's artifact digest and the
policy version that asked for it; a new version or a changed artifact needs a new approval.
Requesters never approve their own requests, and each person counts once. What an approval does
to its deployment is ``portal.deployments.workflow``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalState,
    ModelCertification,
    Verdict,
)
from governance.models.approvals import OPEN_APPROVAL_STATES, CertificationState
from governance.policy import APPROVER_ROLES
from governance.services.notify import notify_certification
from governance.services.policies import policy_in_force, policy_parsed
from governance.signals import enforcement_send, model_recertified, recertification_lapsed
from portal.catalog.models import RiskTier
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, NotAllowed
from tenants.models import Membership, PlatformRole, TenantRole, User

# Why approvals of a version whose files changed in MLflow no longer hold.
TAMPERED = "the version's artifact files changed in MLflow after the portal recorded them"

RISK_RANK: dict[str, int] = {
    RiskTier.PROHIBITED: 0,
    RiskTier.HIGH: 1,
    RiskTier.LIMITED: 2,
    RiskTier.MINIMAL: 3,
}


def requirements_text(requirements: dict[str, int]) -> str:
    parts = []
    for role, count in requirements.items():
        label = APPROVER_ROLES.get(role, role)
        if count > 1:
            # "owner of the unit" takes its plural inside: "owners of the unit".
            label = label.replace(" of ", "s of ", 1) if " of " in label else f"{label}s"
        parts.append(f"{count} {label}")
    return " and ".join(parts)


def approval_audit(
    *,
    actor: Actor,
    approval: ApprovalRequest,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    """Audit a change of ``approval`` (inside the caller's transaction)."""
    audit_record(
        actor=actor,
        action=action,
        object_type="approval",
        object_id=approval.pk,
        tenant_id=approval.tenant_id,
        before=before,
        after=after,
    )


def approval_close(
    *, actor: Actor, approval: ApprovalRequest, state: str, action: str, **extra: Any
) -> None:
    """Close ``approval`` in ``state`` and audit it as ``action``, inside the caller's
    transaction."""
    before = {"state": approval.state}
    approval.state, approval.closed_at = state, timezone.now()
    approval.save(update_fields=["state", "closed_at"])
    approval_audit(
        actor=actor,
        approval=approval,
        action=action,
        before=before,
        after={"state": state, **extra},
    )


def approval_supersede(*, actor: Actor, approval: ApprovalRequest, reason: str) -> None:
    """Mark one approval superseded (inside the caller's transaction)."""
    approval_close(
        actor=actor,
        approval=approval,
        state=ApprovalState.SUPERSEDED,
        action="approval.superseded",
        reason=reason,
    )


def approvals_supersede(
    *, actor: Actor, approvals: QuerySet[ApprovalRequest], reason: str
) -> list[ApprovalRequest]:
    """Mark open approvals superseded (a newer request or a changed artifact replaces them)."""
    closed = []
    for approval in approvals.filter(state__in=OPEN_APPROVAL_STATES).select_for_update():
        approval_supersede(actor=actor, approval=approval, reason=reason)
        closed.append(approval)
    return closed


def reviewer_roles(reviewer: User, approval: ApprovalRequest) -> list[str]:
    """The approver roles of ``approval`` that ``reviewer`` holds, governance first."""
    roles = []
    if (
        "governance_lead" in approval.requirements
        and reviewer.platform_role == PlatformRole.GOVERNANCE_LEAD
    ):
        roles.append("governance_lead")
    if (
        "tenant_owner" in approval.requirements
        and Membership.objects.filter(user_id=reviewer.pk, role=TenantRole.OWNER).exists()
    ):
        roles.append("tenant_owner")
    return roles


def approval_counts(approval: ApprovalRequest) -> dict[str, int]:
    counts: dict[str, int] = {}
    for decision in approval.decisions.filter(verdict=Verdict.APPROVE):
        counts[decision.reviewer_role] = counts.get(decision.reviewer_role, 0) + 1
    return counts


def approval_satisfied(approval: ApprovalRequest) -> bool:
    counts = approval_counts(approval)
    return all(counts.get(role, 0) >= n for role, n in approval.requirements.items())


def approval_reviewer_check(reviewer: User, approval: ApprovalRequest) -> list[str]:
    """The roles ``reviewer`` may decide ``approval`` in; refuses requesters and other roles."""
    requesters = {approval.requested_by_id, approval.deployment.requested_by_id} - {None}
    if reviewer.pk in requesters:
        raise NotAllowed("You requested this deployment; someone else must approve it.")
    roles = reviewer_roles(reviewer, approval)
    if not roles:
        raise NotAllowed(
            f"This request needs {requirements_text(approval.requirements)}; "
            "your role cannot decide it."
        )
    return roles


def approval_stale_reason(approval: ApprovalRequest) -> str:
    """Why an open approval no longer covers its request, or "" when it still does.

    An approval is bound to the version's artifact digest, the model's risk tier and the policy
    version that asked for it; a change to any of them needs a new request.
    """
    version = approval.model_version
    if version.tampered:
        return TAMPERED
    if version.artifact_digest != approval.artifact_digest:
        return "the version's artifact changed after the request"
    if version.model.risk_tier != approval.risk_tier:
        return "the model's risk tier changed after the request"
    if policy_in_force(approval.tenant).pk != approval.policy_version_id:
        return "a new version of the policy is in force"
    return ""


def approval_verdict_record(
    *, actor: Actor, reviewer: User, approval: ApprovalRequest, verdict: str, comment: str
) -> ApprovalRequest:
    """Record one reviewer's verdict on a pending request, inside the caller's transaction.

    A rejection closes the request, a request for changes waits for the requester, and an
    approval closes it approved once every approval the policy asks for is in.
    """
    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    roles = approval_reviewer_check(reviewer, approval)
    if approval.state != ApprovalState.PENDING:
        raise Conflict(
            f"This request is {approval.get_state_display().lower()}; it takes no more decisions."
        )
    if approval_stale_reason(approval):
        raise Conflict(
            "This approval no longer applies; the unit must request the deployment again."
        )
    if approval.decisions.filter(reviewer_id=reviewer.pk).exists():
        raise Conflict("You have already decided on this request; each person counts once.")
    counts = approval_counts(approval)
    role = next((r for r in roles if counts.get(r, 0) < approval.requirements[r]), roles[0])
    ApprovalDecision.objects.create(
        tenant_id=approval.tenant_id,
        approval=approval,
        reviewer=reviewer,
        reviewer_role=role if verdict == Verdict.APPROVE else "",
        verdict=verdict,
        comment=comment,
    )
    before = {"state": approval.state}
    if verdict == Verdict.REJECT:
        approval.state, approval.closed_at = ApprovalState.REJECTED, timezone.now()
    elif verdict == Verdict.REQUEST_CHANGES:
        approval.state = ApprovalState.CHANGES_REQUESTED
    elif approval_satisfied(approval):
        approval.state, approval.closed_at = ApprovalState.APPROVED, timezone.now()
    approval.save(update_fields=["state", "closed_at"])
    approval_audit(
        actor=actor,
        approval=approval,
        action="approval.decided",
        before=before,
        after={
            "state": approval.state,
            "verdict": verdict,
            "reviewer": reviewer.get_username(),
            "reviewer_role": role if verdict == Verdict.APPROVE else "",
            "comment": comment,
            "approvals": approval_counts(approval),
        },
    )
    return approval


def certification_record(*, actor: Actor, approval: ApprovalRequest) -> ModelCertification | None:
    """A high-risk production approval certifies the model for the next N days."""
    deployment = approval.deployment
    if approval.risk_tier != RiskTier.HIGH or deployment.environment != "production":
        return None
    model = approval.model_version.model
    now = timezone.now()
    due = now + timedelta(days=settings.RECERTIFICATION_DAYS)
    certification = ModelCertification.objects.filter(model=model).first()
    before = (
        {"state": certification.state, "due_at": certification.due_at} if certification else None
    )
    if certification is None:
        certification = ModelCertification(tenant_id=model.tenant_id, model=model)
    certification.certified_at, certification.due_at = now, due
    certification.state, certification.notified_state = CertificationState.CURRENT, ""
    certification.approval = approval
    certification.save()
    audit_record(
        actor=actor,
        action="certification.renewed",
        object_type="catalog_model",
        object_id=model.pk,
        tenant_id=model.tenant_id,
        before=before,
        after={"state": certification.state, "due_at": due, "approval": approval.pk},
    )
    enforcement_send(model_recertified, actor=actor, model=model)
    return certification


def certifications_check(*, now: datetime | None = None) -> list[ModelCertification]:
    """Mark certifications due or overdue (inside one tenant's scope); notify on each change.

    When the policy in force says ``on_recertification_overdue: suspend``, an overdue
    certification is also warned about 7 days and 1 day before its grace period
    (``RECERTIFICATION_GRACE_DAYS``) ends, and once it has ended the model's live production
    revisions are suspended (``governance.signals.recertification_lapsed``).
    """
    now = now or timezone.now()
    window = timedelta(days=settings.RECERTIFICATION_DUE_WINDOW_DAYS)
    actor = Actor.system("re-certification")
    changed = []
    for certification in ModelCertification.objects.select_related("model", "tenant"):
        state = (
            CertificationState.OVERDUE
            if certification.due_at <= now
            else CertificationState.DUE
            if certification.due_at - window <= now
            else CertificationState.CURRENT
        )
        suspends_at = _suspends_at(certification) if state == CertificationState.OVERDUE else None
        before_state = certification.state
        if state != certification.state:
            with transaction.atomic():
                before = {"state": certification.state}
                certification.state = state
                certification.notified_state = state
                certification.save(update_fields=["state", "notified_state"])
                audit_record(
                    actor=actor,
                    action=f"certification.{state}",
                    object_type="catalog_model",
                    object_id=certification.model_id,
                    tenant_id=certification.tenant_id,
                    before=before,
                    after={"state": state, "due_at": certification.due_at},
                )
                if state != CertificationState.CURRENT:
                    notify_certification(certification, suspends_at=suspends_at)
            changed.append(certification)
        if suspends_at is not None:
            _grace_enforce(
                certification,
                actor=actor,
                now=now,
                suspends_at=suspends_at,
                just_told=state != before_state,
            )
    return changed


# What an overdue certification under a suspending policy was last told, in order.
GRACE_STAGES = ("overdue", "suspend_in_7d", "suspend_in_1d", "suspended")


def _suspends_at(certification: ModelCertification) -> datetime | None:
    """When the model's live production revisions are suspended, or None when the policy in force
    only flags an overdue certification."""
    parsed = policy_parsed(policy_in_force(certification.tenant))
    if parsed.on_recertification_overdue != "suspend":
        return None
    return certification.due_at + timedelta(days=settings.RECERTIFICATION_GRACE_DAYS)


def _grace_stage(left: timedelta) -> str:
    if left <= timedelta(0):
        return "suspended"
    if left <= timedelta(days=1):
        return "suspend_in_1d"
    if left <= timedelta(days=7):
        return "suspend_in_7d"
    return "overdue"


@transaction.atomic
def _grace_enforce(
    certification: ModelCertification,
    *,
    actor: Actor,
    now: datetime,
    suspends_at: datetime,
    just_told: bool,
) -> None:
    """Warn once per stage of the grace period (not again when the overdue notice just said when
    the suspension comes), and suspend once it is over."""
    stage = _grace_stage(suspends_at - now)
    told = certification.notified_state
    if told in GRACE_STAGES and GRACE_STAGES.index(told) >= GRACE_STAGES.index(stage):
        return
    certification.notified_state = stage
    certification.save(update_fields=["notified_state"])
    if stage == "overdue" or (just_told and stage != "suspended"):
        return
    if stage != "suspended":
        notify_certification(certification, suspends_at=suspends_at)
        return
    model = certification.model
    enforcement_send(
        recertification_lapsed,
        actor=actor,
        model=model,
        reason=(
            f"The re-certification of {model.name} was due on {certification.due_at:%Y-%m-%d} "
            f"and is more than {settings.RECERTIFICATION_GRACE_DAYS} days overdue; the policy in "
            "force suspends its live production revisions until it is approved again."
        ),
    )
