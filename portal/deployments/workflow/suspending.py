"""Enforcement on what is live: suspending a model's revisions, and resuming them.

A suspended revision takes no traffic (the gateway answers its endpoint with a 503 naming the
reason), its model server is stopped, and chargeback stops metering its compute; an open
``Suspension`` keeps the reason and the share of the traffic it had. Two governance decisions
suspend:

- a model's tier in force becomes prohibited (``model_tier_enforce``, called where a new tier
  takes effect): every live revision of the model, in every environment, is suspended at once
  (one still rolling out fails), an incident is opened, and the unit's owners and the governance
  leads are told;
- a high-risk model's re-certification is overdue past the grace period and the policy in force
  says ``on_recertification_overdue: suspend`` (governance sends ``recertification_lapsed``): its
  live production revisions are suspended and each is put under review; a new approval (that
  review, or a new production request) certifies the model again (``model_recertified``), which
  resumes them: the server starts again (followed until it answers on a cluster target), the
  traffic returns and metering restarts. Reviewers who reject the review retire the revision.

Suspending and resuming are audited (``deployment.suspended`` / ``deployment.resumed``) and
notified, in the transaction of the decision that caused them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from governance.services.incidents import incident_open
from governance.services.notify import governance_lead_emails, tenant_owner_emails
from portal.catalog.models import RegisteredModel, RiskTier
from portal.core.audit import Actor
from portal.deployments.models import (
    Deployment,
    DeploymentState,
    Environment,
    Suspension,
    SuspensionCause,
)
from portal.deployments.rollout import revision_serve_again, revision_stop
from portal.deployments.services import deployment_transition
from portal.deployments.workflow.requesting import deployment_review_request
from tenants.notifications import notify

PROHIBITED_REASON = (
    "The model is now classified as a prohibited AI practice (EU AI Act, Article 5), so it may "
    "not serve predictions."
)


def model_tier_enforce(*, actor: Actor, model: RegisteredModel, tier: str) -> list[Deployment]:
    """Suspend every live revision of ``model`` when its tier in force becomes prohibited, open an
    incident and tell the unit's owners and the governance leads (inside the caller's
    transaction); returns the revisions suspended."""
    if tier != RiskTier.PROHIBITED:
        return []
    suspended = revisions_suspend(
        actor=actor,
        revisions=Deployment.objects.filter(model_version__model=model),
        cause=SuspensionCause.PROHIBITED,
        reason=PROHIBITED_REASON,
    )
    stopped = _stop_deploying(actor=actor, model=model)
    if suspended or stopped:
        incident_open(
            actor=actor,
            tenant_id=model.tenant_id,
            title=f"{model.name} is classified as prohibited; its live revisions were suspended",
            severity="sev1",
            description=(
                f"{PROHIBITED_REASON} Suspended: {_names(suspended) or 'none'}. "
                f"Stopped while rolling out: {_names(stopped) or 'none'}. The endpoints answer "
                "503 until the revisions are retired; a prohibited model is never deployed again."
            ),
            source="classification",
            model=model,
        )
    if suspended:
        _notify(model, suspended, event="model.suspended", reason=PROHIBITED_REASON)
    return suspended


def _stop_deploying(*, actor: Actor, model: RegisteredModel) -> list[Deployment]:
    """Fail the model's revisions that are rolling out, so none goes live after the tier
    changed (the rollout stops what its target started)."""
    deploying = Deployment.objects.filter(
        model_version__model=model, state=DeploymentState.DEPLOYING
    ).select_for_update()
    stopped = []
    for deployment in deploying.order_by("pk"):
        deployment_transition(
            actor=actor, deployment=deployment, to=DeploymentState.FAILED, reason=PROHIBITED_REASON
        )
        revision_stop(deployment)
        stopped.append(deployment)
    return stopped


def on_recertification_lapsed(
    *, actor: Actor, model: RegisteredModel, reason: str, **_: Any
) -> None:
    """Receives ``governance.signals.recertification_lapsed``: suspend the model's live
    production revisions and put each under review, whose approval certifies the model again."""
    suspended = revisions_suspend(
        actor=actor,
        revisions=Deployment.objects.filter(
            model_version__model=model, environment=Environment.PRODUCTION
        ),
        cause=SuspensionCause.RECERTIFICATION_OVERDUE,
        reason=reason,
    )
    for deployment in suspended:
        deployment_review_request(
            actor=actor,
            deployment=deployment,
            reason=f"Suspended until it is certified again: {reason}",
        )
    if suspended:
        _notify(model, suspended, event="model.suspended", reason=reason)


def on_model_recertified(*, actor: Actor, model: RegisteredModel, **_: Any) -> None:
    """Receives ``governance.signals.model_recertified``: resume the revisions suspended because
    the model's re-certification was overdue (never those of a prohibited model)."""
    if model.risk_tier == RiskTier.PROHIBITED:
        return
    resumed = revisions_resume(
        actor=actor,
        revisions=Deployment.objects.filter(model_version__model=model),
        cause=SuspensionCause.RECERTIFICATION_OVERDUE,
        reason="The model was certified again.",
    )
    if resumed:
        _notify(model, resumed, event="model.resumed", reason="The model was certified again.")


def revisions_suspend(
    *, actor: Actor, revisions: QuerySet[Deployment], cause: str, reason: str
) -> list[Deployment]:
    """Suspend the live ones of ``revisions`` with ``reason`` (inside the caller's transaction):
    no traffic, the server stopped after the commit, the share they had kept for resumption."""
    now = timezone.now()
    suspended = []
    live = revisions.filter(state=DeploymentState.LIVE).select_for_update().order_by("pk")
    for deployment in live:
        Suspension.objects.create(
            tenant_id=deployment.tenant_id,
            deployment=deployment,
            cause=cause,
            reason=reason,
            traffic_weight=deployment.traffic_weight,
            started_at=now,
        )
        deployment_transition(
            actor=actor,
            deployment=deployment,
            to=DeploymentState.SUSPENDED,
            reason=reason,
            extra={"cause": cause, "traffic_weight_before": deployment.traffic_weight},
        )
        deployment.traffic_weight = 0
        deployment.save(update_fields=["traffic_weight"])
        revision_stop(deployment)
        suspended.append(deployment)
    return suspended


def revisions_resume(
    *, actor: Actor, revisions: QuerySet[Deployment], cause: str, reason: str
) -> list[Deployment]:
    """Resume the ones of ``revisions`` suspended for ``cause`` (inside the caller's transaction):
    they are live again with the share of the traffic they had, unless a newer revision of their
    endpoint took the traffic meanwhile (then they stay warm for a rollback, as replaced
    revisions do), and their servers start again after the commit."""
    now = timezone.now()
    open_suspensions = {
        s.deployment_id: s
        for s in Suspension.objects.select_for_update().filter(
            deployment__in=revisions, cause=cause, ended_at__isnull=True
        )
    }
    waiting = list(
        revisions.filter(pk__in=open_suspensions, state=DeploymentState.SUSPENDED)
        .select_for_update()
        .order_by("pk")
    )
    busy = set(
        Deployment.objects.filter(
            name__in={d.name for d in waiting},
            state=DeploymentState.LIVE,
            shadow=False,
            traffic_weight__gt=0,
        ).values_list("name", flat=True)
    )
    resumed = []
    for deployment in waiting:
        suspension = open_suspensions[deployment.pk]
        suspension.ended_at = now
        suspension.save(update_fields=["ended_at"])
        weight = 0 if deployment.name in busy else suspension.traffic_weight
        deployment_transition(
            actor=actor,
            deployment=deployment,
            to=DeploymentState.LIVE,
            reason=reason,
            extra={"cause": cause, "traffic_weight": weight},
            action="deployment.resumed",
        )
        deployment.traffic_weight = weight
        if deployment.name in busy and not deployment.shadow:
            deployment.warm_until = now + timedelta(seconds=settings.ROLLBACK_GRACE_SECONDS)
        deployment.save(update_fields=["traffic_weight", "warm_until"])
        revision_serve_again(deployment)
        resumed.append(deployment)
    return resumed


def _names(revisions: list[Deployment]) -> str:
    return ", ".join(f"{d.name} r{d.revision} ({d.environment})" for d in revisions)


def _notify(
    model: RegisteredModel, revisions: list[Deployment], *, event: str, reason: str
) -> None:
    words = "suspended" if event == "model.suspended" else "resumed"
    notify(
        tenant_id=model.tenant_id,
        event=event,
        payload={
            "model": model.name,
            "reason": reason,
            "deployments": [
                {"id": d.pk, "name": d.name, "revision": d.revision, "environment": d.environment}
                for d in revisions
            ],
        },
        emails=tenant_owner_emails() + governance_lead_emails(),
        subject=f"{model.name}: {len(revisions)} live revision(s) {words}",
        body=(
            f"The portal {words} these revisions of {model.name}: {_names(revisions)}.\n\n"
            f"Why: {reason}\n"
            + (
                "\nThey take no traffic and their model servers are stopped; their endpoints "
                "answer 503 until they resume.\n"
                if words == "suspended"
                else "\nTheir model servers start again and the traffic returns to them.\n"
            )
        ),
    )
