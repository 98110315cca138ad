"""Who hears about governance events, by email and through the tenant's outgoing webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from governance.models import ApprovalRequest, ModelCertification, TierProposal
from tenants.models import Membership, PlatformRole, TenantRole, User
from tenants.notifications import notify


def _emails(users: Any) -> list[str]:
    return sorted({u.email for u in users if u.email})


def governance_lead_emails() -> list[str]:
    return _emails(User.objects.filter(platform_role=PlatformRole.GOVERNANCE_LEAD, is_active=True))


def tenant_owner_emails() -> list[str]:
    """Owners of the tenant in scope."""
    owners = Membership.objects.filter(role=TenantRole.OWNER, user__is_active=True).select_related(
        "user"
    )
    return _emails(m.user for m in owners)


def _link(name: str, **kwargs: Any) -> str:
    return settings.PORTAL_BASE_URL + reverse(name, kwargs=kwargs)


def _approval_payload(approval: ApprovalRequest) -> dict[str, Any]:
    version = approval.model_version
    return {
        "approval": approval.pk,
        "state": approval.state,
        "deployment": approval.deployment_id,
        "model": version.model.name,
        "version": version.version,
        "environment": approval.deployment.environment,
        "risk_tier": approval.risk_tier,
        "requirements": approval.requirements,
        "reasons": approval.reasons,
        "url": _link("approval-page", approval_id=approval.pk),
    }


def notify_approval_requested(approval: ApprovalRequest) -> None:
    payload = _approval_payload(approval)
    recipients: list[str] = []
    if "governance_lead" in approval.requirements:
        recipients += governance_lead_emails()
    if "tenant_owner" in approval.requirements:
        recipients += tenant_owner_emails()
    requester_email = approval.requested_by.email if approval.requested_by else ""
    notify(
        tenant_id=approval.tenant_id,
        event="approval.requested",
        payload=payload,
        emails=[e for e in recipients if e != requester_email],
        subject=f"Approval needed: {payload['model']} v{payload['version']} to {payload['environment']}",
        body=(
            f"{approval.requested_by_label} asks to deploy {payload['model']} version "
            f"{payload['version']} to {payload['environment']}.\n\nThe policy says:\n"
            + "\n".join(f"- {r}" for r in approval.reasons)
            + f"\n\nReview it here: {payload['url']}\n"
        ),
    )


def notify_approval_decided(
    approval: ApprovalRequest, *, verdict: str, reviewer: User, comment: str
) -> None:
    payload = {
        **_approval_payload(approval),
        "verdict": verdict,
        "reviewer": reviewer.get_username(),
        "comment": comment,
    }
    email = (
        approval.requested_by.email if approval.requested_by and approval.requested_by.email else ""
    )
    notify(
        tenant_id=approval.tenant_id,
        event="approval.decided",
        payload=payload,
        emails=[email] if email else [],
        subject=f"{payload['model']} v{payload['version']} to {payload['environment']}: {approval.get_state_display().lower()}",
        body=(
            f"{reviewer.get_username()} decided '{verdict.replace('_', ' ')}' on your request to deploy "
            f"{payload['model']} version {payload['version']} to {payload['environment']}.\n"
            + (f"\nComment: {comment}\n" if comment else "")
            + f"\nThe request is now {approval.get_state_display().lower()}: {payload['url']}\n"
        ),
    )


def notify_certification(
    certification: ModelCertification, *, suspends_at: datetime | None = None
) -> None:
    """Tell the unit's owners and the governance leads that a certification is due or overdue;
    ``suspends_at`` is when the policy in force suspends the model's live production revisions."""
    model = certification.model
    payload = {
        "model": model.name,
        "state": certification.state,
        "due_at": certification.due_at.isoformat(),
        "certified_at": certification.certified_at.isoformat(),
        "suspends_at": suspends_at.isoformat() if suspends_at else None,
    }
    words = "is overdue for" if certification.state == "overdue" else "is due for"
    notify(
        tenant_id=certification.tenant_id,
        event=f"certification.{certification.state}",
        payload=payload,
        emails=tenant_owner_emails() + governance_lead_emails(),
        subject=f"{model.name} {words} re-certification"
        + (f"; suspended on {suspends_at:%Y-%m-%d}" if suspends_at else ""),
        body=(
            f"The high-risk model {model.name} {words} re-certification (due "
            f"{certification.due_at:%Y-%m-%d}). Request a production approval again to renew it.\n"
            + (
                f"\nIts live production revisions will be suspended on {suspends_at:%Y-%m-%d %H:%M} "
                "UTC unless it is approved again before then.\n"
                if suspends_at
                else ""
            )
        ),
    )


def notify_approval_chased(
    approval: ApprovalRequest,
    *,
    people: list[User],
    escalated: bool,
    needs: str,
    standing_in: dict[str, list[str]],
) -> None:
    """Remind ``people`` of a request waiting for them, or escalate it to the governance leads.

    ``needs`` says what approvals the request still needs, ``standing_in`` maps a delegate's
    username to the absent leads they hear for."""
    payload = {
        **_approval_payload(approval),
        "waiting_since": approval.created_at.isoformat(),
        "recipients": [u.get_username() for u in people],
        "standing_in_for": standing_in,
    }
    days = (approval.escalated_at or approval.reminded_at or approval.created_at) - (
        approval.created_at
    )
    what = f"{payload['model']} v{payload['version']} to {payload['environment']}"
    if escalated:
        subject = f"Escalated: {what} has waited {days.days} days for approval"
        opening = (
            f"{approval.requested_by_label}'s request to deploy {what} has waited {days.days} "
            f"days and still needs {needs}. Every governance lead is "
            "told; please decide it or ask the unit for what is missing."
        )
    else:
        subject = f"Reminder: {what} waits for your decision"
        opening = (
            f"{approval.requested_by_label}'s request to deploy {what} has waited {days.days} "
            f"days for a decision; it needs {needs}."
        )
    delegates = "".join(
        f"\n{delegate} receives this for {' and '.join(leads)}, "
        f"who {'is' if len(leads) == 1 else 'are'} away."
        for delegate, leads in standing_in.items()
    )
    notify(
        tenant_id=approval.tenant_id,
        event="approval.escalated" if escalated else "approval.reminded",
        payload=payload,
        emails=_emails(people),
        subject=subject,
        body=f"{opening}\n{delegates}\nReview it here: {payload['url']}\n",
    )


def _proposal_payload(proposal: TierProposal) -> dict[str, Any]:
    model = proposal.model
    return {
        "proposal": proposal.pk,
        "state": proposal.state,
        "model": model.name,
        "tier_in_force": proposal.based_on.tier,
        "tier": proposal.tier,
        "proposed_by": proposal.proposed_by_label,
        "decided_by": proposal.decided_by_label,
        "comment": proposal.comment,
        "url": settings.PORTAL_BASE_URL
        + reverse("model-classification", kwargs={"tenant": model.tenant.slug, "name": model.name}),
    }


def notify_tier_proposal_opened(proposal: TierProposal, *, diff: list) -> None:
    """Governance leads hear that the unit asks for a tier it may not set itself."""
    payload = _proposal_payload(proposal)
    changes = "\n".join(
        f"- {c.question.text} {c.in_force_label} -> {c.proposed_label}" for c in diff
    )
    notify(
        tenant_id=proposal.tenant_id,
        event="proposal.opened",
        payload=payload,
        emails=governance_lead_emails(),
        subject=(
            f"Tier proposal: {payload['model']} from {payload['tier_in_force']} to "
            f"{payload['tier']}"
        ),
        body=(
            f"{proposal.proposed_by_label} proposes {payload['tier']} risk for {payload['model']} "
            f"(in force: {payload['tier_in_force']}). {proposal.why}\n\n"
            + (f"Changed answers:\n{changes}\n\n" if changes else "")
            + f"Accept or reject it here: {payload['url']}\n"
        ),
    )


def notify_tier_proposal_decided(proposal: TierProposal) -> None:
    """The unit's owners and the proposer hear a governance lead's decision."""
    payload = _proposal_payload(proposal)
    proposer = proposal.proposed_by.email if proposal.proposed_by else ""
    outcome = (
        f"{payload['model']} is now classified {payload['tier']} risk"
        if proposal.state == "accepted"
        else f"{payload['model']} stays {payload['tier_in_force']} risk"
    )
    notify(
        tenant_id=proposal.tenant_id,
        event=f"proposal.{proposal.state}",
        payload=payload,
        emails=[*tenant_owner_emails(), proposer],
        subject=f"Tier proposal for {payload['model']}: {proposal.get_state_display().lower()}",
        body=(
            f"{proposal.decided_by_label} {proposal.state} the proposal of {payload['tier']} risk "
            f"for {payload['model']}: {outcome}.\n"
            + (f"\nComment: {proposal.comment}\n" if proposal.comment else "")
            + f"\n{payload['url']}\n"
        ),
    )
