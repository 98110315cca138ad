"""Approval requests: opening them for a deployment, reviewers' decisions, expiry, certification.

An approval is bound to the deployment's model version, that version's artifact digest and the
policy version that asked for it; a new version or a changed artifact needs a new approval.
Requesters never approve their own requests, and each person counts once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.audit import Actor, audit_record
from governance.models import (
    ApprovalDecision,
    ApprovalPurpose,
    ApprovalRequest,
    ApprovalState,
    ModelCertification,
    PolicyVersion,
    Verdict,
)
from governance.models.approvals import OPEN_APPROVAL_STATES, CertificationState
from governance.policy import APPROVER_ROLES, Decision
from governance.services.notify import notify_approval_decided, notify_approval_requested
from portal.catalog.models import RiskTier
from portal.errors import Conflict, InvalidRequest, NotAllowed
from tenants.models import Membership, PlatformRole, TenantRole

# Why approvals of a version whose files changed in MLflow no longer hold.
TAMPERED = "the version's artifact files changed in MLflow after the portal recorded them"

RISK_RANK = {RiskTier.PROHIBITED: 0, RiskTier.HIGH: 1, RiskTier.LIMITED: 2, RiskTier.MINIMAL: 3}


def requirements_text(requirements: dict[str, int]) -> str:
    parts = []
    for role, count in requirements.items():
        label = APPROVER_ROLES.get(role, role)
        if count > 1:
            # "owner of the unit" takes its plural inside: "owners of the unit".
            label = label.replace(" of ", "s of ", 1) if " of " in label else f"{label}s"
        parts.append(f"{count} {label}")
    return " and ".join(parts)


def _audit_approval(
    actor: Actor, approval: ApprovalRequest, action: str, before: dict | None, after: dict
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="approval",
        object_id=approval.pk,
        tenant_id=approval.tenant_id,
        before=before,
        after=after,
    )


def approval_open(
    *,
    actor: Actor,
    deployment: Any,
    policy_version: PolicyVersion,
    decision: Decision,
    requested_by: Any = None,
    purpose: str = "rollout",
) -> ApprovalRequest:
    """Open the approval a deployment needs (``purpose`` rollout), or a review of a live one.
    Runs inside the caller's transaction."""
    version = deployment.model_version
    tier = version.model.risk_tier
    approval = ApprovalRequest.objects.create(
        tenant_id=deployment.tenant_id,
        deployment=deployment,
        model_version=version,
        artifact_digest=version.artifact_digest,
        policy_version=policy_version,
        risk_tier=tier,
        risk_rank=RISK_RANK.get(tier, 4),
        purpose=purpose,
        requirements=decision.requirements,
        reasons=decision.reasons,
        requested_by=requested_by,
        requested_by_label=actor.label,
        expires_at=timezone.now() + timedelta(days=settings.APPROVAL_EXPIRY_DAYS),
    )
    _audit_approval(
        actor,
        approval,
        "approval.requested",
        None,
        {
            "state": approval.state,
            "deployment": deployment.pk,
            "model_version": version.pk,
            "artifact_digest": approval.artifact_digest,
            "policy_version": policy_version.pk,
            "requirements": approval.requirements,
            "purpose": purpose,
        },
    )
    notify_approval_requested(approval)
    return approval


def _close(actor: Actor, approval: ApprovalRequest, state: str, action: str, **extra: Any) -> None:
    before = {"state": approval.state}
    approval.state, approval.closed_at = state, timezone.now()
    approval.save(update_fields=["state", "closed_at"])
    _audit_approval(actor, approval, action, before, {"state": state, **extra})


def approvals_supersede(*, actor: Actor, approvals: Any, reason: str) -> list[ApprovalRequest]:
    """Mark open approvals superseded (a newer request or a changed artifact replaces them)."""
    closed = []
    for approval in approvals.filter(state__in=OPEN_APPROVAL_STATES).select_for_update():
        _close(actor, approval, ApprovalState.SUPERSEDED, "approval.superseded", reason=reason)
        closed.append(approval)
    return closed


def approvals_void_for_version(*, actor: Actor, version: Any, reason: str) -> list[ApprovalRequest]:
    """Void every approval of ``version`` that is open or in force, inside the caller's
    transaction: open requests are superseded and their deployments cancelled, approved ones are
    superseded, and deployments approved but not rolled out yet are cancelled."""
    from portal.deployments.models import Deployment, DeploymentState
    from portal.deployments.services import deployment_transition

    voided = []
    approvals = ApprovalRequest.objects.filter(
        model_version=version, state__in=[*OPEN_APPROVAL_STATES, ApprovalState.APPROVED]
    ).select_for_update()
    for approval in approvals.select_related("deployment"):
        if approval.is_open:
            approval_supersede_with_deployment(actor=actor, approval=approval, reason=reason)
        else:
            _close(actor, approval, ApprovalState.SUPERSEDED, "approval.superseded", reason=reason)
        voided.append(approval)
    waiting = Deployment.objects.filter(
        model_version=version, state=DeploymentState.APPROVED
    ).select_for_update()
    for deployment in waiting:
        deployment_transition(
            actor=actor,
            deployment=deployment,
            to="cancelled",
            reason=f"Its approval no longer applies: {reason}.",
        )
    return voided


def reviewer_roles(reviewer: Any, approval: ApprovalRequest) -> list[str]:
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


def _check_reviewer(reviewer: Any, approval: ApprovalRequest) -> list[str]:
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
    from governance.services.policies import policy_in_force

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


def approval_decide(
    *, actor: Actor, reviewer: Any, approval: ApprovalRequest, verdict: str, comment: str = ""
) -> ApprovalRequest:
    """Record one reviewer's verdict; the deployment moves on when the policy is satisfied.

    Only someone who may decide is heard. When the approval no longer covers its request (see
    ``approval_stale_reason``), it is superseded (that change is kept) and the verdict is refused
    with a 409.
    """
    _check_reviewer(reviewer, approval)
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


def approval_supersede_with_deployment(
    *, actor: Actor, approval: ApprovalRequest, reason: str
) -> None:
    """Supersede an open approval and cancel the deployment waiting for it (inside a transaction)."""
    from portal.deployments.services import deployment_transition

    _close(actor, approval, ApprovalState.SUPERSEDED, "approval.superseded", reason=reason)
    if approval.purpose == ApprovalPurpose.REVIEW:
        return  # the live deployment keeps serving; a new review can be asked for
    deployment_transition(
        actor=actor,
        deployment=approval.deployment,
        to="cancelled",
        reason=f"The approval no longer applies: {reason}. Request the deployment again.",
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
    *, actor: Actor, reviewer: Any, approval: ApprovalRequest, verdict: str, comment: str
) -> ApprovalRequest:
    from portal.deployments.services import deployment_transition

    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    roles = _check_reviewer(reviewer, approval)
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
    deployment_to = ""
    if verdict == Verdict.REJECT:
        approval.state, approval.closed_at, deployment_to = (
            ApprovalState.REJECTED,
            timezone.now(),
            "rejected",
        )
    elif verdict == Verdict.REQUEST_CHANGES:
        approval.state = ApprovalState.CHANGES_REQUESTED
    elif approval_satisfied(approval):
        approval.state, approval.closed_at, deployment_to = (
            ApprovalState.APPROVED,
            timezone.now(),
            "approved",
        )
    approval.save(update_fields=["state", "closed_at"])
    _audit_approval(
        actor,
        approval,
        "approval.decided",
        before,
        {
            "state": approval.state,
            "verdict": verdict,
            "reviewer": reviewer.get_username(),
            "reviewer_role": role if verdict == Verdict.APPROVE else "",
            "comment": comment,
            "approvals": approval_counts(approval),
        },
    )
    if deployment_to and approval.purpose == ApprovalPurpose.REVIEW:
        if deployment_to == "rejected":
            from portal.deployments.rollout import revision_withdraw

            revision_withdraw(
                actor=actor,
                deployment=approval.deployment,
                reason=f"Reviewers rejected it: {comment}" if comment else "Reviewers rejected it.",
            )
    elif deployment_to:
        deployment_transition(
            actor=actor,
            deployment=approval.deployment,
            to=deployment_to,
            reason=f"{'Approved' if deployment_to == 'approved' else 'Rejected'} by reviewers.",
        )
    if approval.state == ApprovalState.APPROVED:
        certification_record(actor=actor, approval=approval)
    notify_approval_decided(approval, verdict=verdict, reviewer=reviewer, comment=comment)
    return approval


@transaction.atomic
def approval_withdraw(*, actor: Actor, approval: ApprovalRequest) -> ApprovalRequest:
    from portal.deployments.services import deployment_transition

    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if not approval.is_open:
        raise Conflict(
            f"This request is {approval.get_state_display().lower()}; it cannot be withdrawn."
        )
    _close(actor, approval, ApprovalState.WITHDRAWN, "approval.withdrawn")
    if approval.purpose == ApprovalPurpose.REVIEW:
        return approval
    deployment_transition(
        actor=actor,
        deployment=approval.deployment,
        to="cancelled",
        reason="The request was withdrawn.",
    )
    return approval


def approvals_expire(*, now: Any = None) -> int:
    """Expire open approvals past their deadline (runs inside one tenant's scope)."""
    from portal.deployments.services import deployment_transition

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
            _close(actor, approval, ApprovalState.EXPIRED, "approval.expired")
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


def approval_in_force(deployment: Any) -> ApprovalRequest | None:
    """The approved approval that still covers the deployment's exact version and artifact."""
    version = deployment.model_version
    if version.tampered:
        return None
    return (
        ApprovalRequest.objects.filter(
            deployment=deployment,
            state=ApprovalState.APPROVED,
            model_version=version,
            artifact_digest=version.artifact_digest,
        )
        .order_by("-closed_at")
        .first()
    )


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
    return certification


def certifications_check(*, now: Any = None) -> list[ModelCertification]:
    """Mark certifications due or overdue (inside one tenant's scope); notify on each change."""
    from governance.services.notify import notify_certification

    now = now or timezone.now()
    window = timedelta(days=settings.RECERTIFICATION_DUE_WINDOW_DAYS)
    actor = Actor.system("re-certification")
    changed = []
    for certification in ModelCertification.objects.select_related("model"):
        state = (
            CertificationState.OVERDUE
            if certification.due_at <= now
            else CertificationState.DUE
            if certification.due_at - window <= now
            else CertificationState.CURRENT
        )
        if state == certification.state:
            continue
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
                notify_certification(certification)
        changed.append(certification)
    return changed
