"""Who hears about governance events, by email and through the tenant's outgoing webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from governance.models import ApprovalRequest, ModelCertification
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
