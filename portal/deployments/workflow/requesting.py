"""Requesting a deployment, submitting it again, and putting a live one back under review.

The policy in force decides what a request needs: it is approved at once, waits for an approval
request, or is rejected with the policy's reasons. A prohibited model is refused whatever a
policy says. The context it decides on is built the same way for a dry run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.models import ApprovalPurpose, ApprovalRequest, PolicyVersion
from governance.policy import Decision
from governance.services.approvals import RISK_RANK, approval_audit, approvals_supersede
from governance.services.notify import notify_approval_requested
from governance.services.policies import policy_context, policy_decide, policy_dry_run_trusted
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict
from portal.deployments.models import Deployment, DeploymentState
from portal.deployments.services import (
    DeploymentSpec,
    cost_estimate,
    deployment_record,
    deployment_transition,
    endpoint_default_name,
    version_refuse_tampered,
)
from portal.monitoring.selectors import monitor_facts
from tenants.models import Tenant, User


def request_context(*, tenant: Tenant, spec: DeploymentSpec) -> dict[str, Any]:
    """The context a policy decides a request like this on, with the request's cost estimate and
    what is known of its endpoint's drift monitor (a request with the drift option gets one when
    it goes live, so ``monitor.requested`` counts as monitoring)."""
    endpoint = spec.name or endpoint_default_name(spec.version, spec.environment)
    return policy_context(
        tenant=tenant,
        version=spec.version,
        environment=spec.environment,
        target=spec.target,
        instance_type=spec.instance_type,
        replicas=spec.replicas,
        drift_monitor=spec.drift_monitor,
        monitor={"endpoint": endpoint, **monitor_facts(endpoint)},
        cost=cost_estimate(
            environment=spec.environment,
            target=spec.target,
            instance_type=spec.instance_type,
            replicas=spec.replicas,
            drift_monitor=spec.drift_monitor,
            tenant=tenant,
        ),
    )


def policy_dry_run_version(
    *,
    tenant: Tenant,
    version: ModelVersion,
    environment: str,
    target: str = "local",
    instance_type: str = "cpu.small",
    replicas: int = 1,
    drift_monitor: bool = True,
    document: str | None = None,
) -> tuple[PolicyVersion | None, Decision, dict[str, Any]]:
    """Dry-run a request for one of the tenant's model versions, its context built as for a real
    request; against ``document`` when given, else the tenant's policy in force.

    Returns the policy version used (None for a draft document), the decision and the context.
    Runs inside the tenant's scope.
    """
    spec = DeploymentSpec(
        version=version,
        environment=environment,
        target=target,
        instance_type=instance_type,
        replicas=replicas,
        drift_monitor=drift_monitor,
    )
    context = request_context(tenant=tenant, spec=spec)
    policy, decision = policy_dry_run_trusted(context=context, document=document, tenant=tenant)
    return policy, decision, context


def _decide(deployment: Deployment, tenant: Tenant) -> tuple[PolicyVersion, Decision]:
    context = request_context(tenant=tenant, spec=DeploymentSpec.of(deployment))
    return policy_decide(tenant=tenant, context=context)


def approval_open(
    *,
    actor: Actor,
    deployment: Deployment,
    policy_version: PolicyVersion,
    decision: Decision,
    requested_by: User | None = None,
    purpose: str = ApprovalPurpose.ROLLOUT,
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
    approval_audit(
        actor=actor,
        approval=approval,
        action="approval.requested",
        before=None,
        after={
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


def _apply_decision(*, actor: Actor, deployment: Deployment, tenant: Tenant) -> Deployment:
    policy_version, decision = _decide(deployment, tenant)
    deployment.policy_version, deployment.decision = (
        policy_version,
        {
            **decision.as_dict(),
            "policy": {"name": policy_version.name, "version": policy_version.version},
        },
    )
    deployment.save(update_fields=["policy_version", "decision"])
    to = {"allow": "approved", "deny": "rejected"}.get(decision.outcome, "pending_approval")
    deployment_transition(
        actor=actor,
        deployment=deployment,
        to=to,
        reason=" ".join(decision.reasons),
        extra={"policy_version": policy_version.pk, "outcome": decision.outcome},
    )
    if to == "pending_approval":
        approval_open(
            actor=actor,
            deployment=deployment,
            policy_version=policy_version,
            decision=decision,
            requested_by=deployment.requested_by,
        )
    return deployment


@transaction.atomic
def deployment_request(
    *, actor: Actor, tenant: Tenant, spec: DeploymentSpec, user: User | None = None
) -> Deployment:
    """Record a deployment request, the next revision of endpoint ``spec.name`` (by default
    ``<model>-<environment>``), and let the policy in force decide what it needs.

    Open requests for the same endpoint are superseded by this one.
    """
    deployment = deployment_record(actor=actor, tenant=tenant, spec=spec, user=user)
    older = Deployment.objects.filter(
        tenant=tenant, name=deployment.name, state=DeploymentState.PENDING_APPROVAL
    ).exclude(pk=deployment.pk)
    for previous in older.select_for_update():
        approvals_supersede(
            actor=actor,
            approvals=ApprovalRequest.objects.filter(deployment=previous),
            reason=f"deployment {deployment.pk} replaces this request",
        )
        deployment_transition(
            actor=actor,
            deployment=previous,
            to="cancelled",
            reason=f"Replaced by deployment request {deployment.pk}.",
        )
    return _apply_decision(actor=actor, deployment=deployment, tenant=tenant)


@transaction.atomic
def deployment_resubmit(*, actor: Actor, deployment: Deployment) -> Deployment:
    """After reviewers asked for changes, ask the policy again; the old approval is superseded.

    The new approval request stays the original requester's, who therefore still cannot approve it.
    """
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.state != DeploymentState.PENDING_APPROVAL:
        raise Conflict("Only a deployment waiting for approval can be submitted again.")
    version_refuse_tampered(deployment.model_version)
    approvals_supersede(
        actor=actor,
        approvals=ApprovalRequest.objects.filter(deployment=deployment),
        reason="the request was submitted again",
    )
    return _apply_decision(actor=actor, deployment=deployment, tenant=deployment.tenant)


@transaction.atomic
def deployment_review_request(
    *, actor: Actor, deployment: Deployment, reason: str
) -> ApprovalRequest:
    """Put a live deployment back under review (its high-risk model drifted, for example).

    It keeps serving while reviewers decide, under the approvals the policy in force asks of a
    request like it (at least one governance lead): approval re-certifies it, rejection takes it
    out of the traffic. A suspended deployment is reviewed the same way (approval resumes it when
    it was suspended for an overdue re-certification). An open review is returned as it is.
    """
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.state not in (DeploymentState.LIVE, DeploymentState.SUSPENDED):
        raise Conflict("Only a live or suspended deployment can be put back under review.")
    open_review = deployment.approvals.filter(
        purpose="review", state__in=["pending", "changes_requested"]
    ).first()
    if open_review is not None:
        return open_review
    policy_version, decision = _decide(deployment, deployment.tenant)
    if not decision.requirements:
        decision.requirements = {"governance_lead": 1}
    decision.reasons = [reason, *decision.reasons]
    approval = approval_open(
        actor=actor,
        deployment=deployment,
        policy_version=policy_version,
        decision=decision,
        purpose="review",
    )
    audit_record(
        actor=actor,
        action="deployment.review_requested",
        object_type="deployment",
        object_id=deployment.pk,
        tenant_id=deployment.tenant_id,
        after={"approval": approval.pk, "reason": reason},
    )
    return approval
