"""What takes the cover of approvals away: a model's new risk tier, and a version's artifact files
that changed in MLflow after the portal recorded them.

A new tier supersedes the open approvals of the model's versions; a prohibited tier also cancels
deployments that were approved but have not rolled out. A tampered version voids every approval
of it, open or in force, cancels what waits to roll out, and opens an incident for the unit
(which governance sees too), all in one transaction; it is never deployed or approved again.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.models import ApprovalRequest, ApprovalState, Incident, RiskClassification
from governance.models.approvals import OPEN_APPROVAL_STATES
from governance.services.approvals import TAMPERED, approval_supersede
from governance.services.classification import risk_classification_record
from governance.services.incidents import incident_open
from portal.catalog.models import ModelVersion, RegisteredModel, RiskTier
from portal.core.audit import Actor, audit_record
from portal.deployments.models import Deployment, DeploymentState
from portal.deployments.services import deployment_transition
from portal.deployments.workflow.deciding import approval_supersede_with_deployment
from portal.deployments.workflow.suspending import model_tier_enforce
from tenants.models import User


@transaction.atomic
def model_classify(
    *, actor: Actor, model: RegisteredModel, answers: Any, user: User | None = None
) -> RiskClassification:
    """Store the answers and the tier they give, set the model's tier, and audit the change; a
    new tier takes the cover of the model's approvals away."""
    classification, before_tier = risk_classification_record(
        actor=actor, model=model, answers=answers, user=user
    )
    if before_tier != classification.tier:
        _withdraw_cover(actor=actor, model=model, tier=classification.tier)
        model_tier_enforce(actor=actor, model=model, tier=classification.tier)
    return classification


def _withdraw_cover(*, actor: Actor, model: RegisteredModel, tier: str) -> None:
    """A new tier voids the open approvals of the model's versions; a prohibited tier also
    cancels deployments that were approved but have not rolled out."""
    open_approvals = ApprovalRequest.objects.filter(
        model_version__model=model, state__in=OPEN_APPROVAL_STATES
    ).select_for_update()
    for approval in open_approvals:
        approval_supersede_with_deployment(
            actor=actor, approval=approval, reason="the model's risk tier changed"
        )
    if tier == RiskTier.PROHIBITED:
        _cancel_approved(
            Deployment.objects.filter(model_version__model=model),
            actor=actor,
            reason="The model is now classified as prohibited; it is never deployed.",
        )


def approvals_void_for_version(
    *, actor: Actor, version: ModelVersion, reason: str
) -> list[ApprovalRequest]:
    """Void every approval of ``version`` that is open or in force, inside the caller's
    transaction: open requests are superseded and their deployments cancelled, approved ones are
    superseded, and deployments approved but not rolled out yet are cancelled."""
    voided = []
    approvals = ApprovalRequest.objects.filter(
        model_version=version, state__in=[*OPEN_APPROVAL_STATES, ApprovalState.APPROVED]
    ).select_for_update()
    for approval in approvals.select_related("deployment"):
        if approval.is_open:
            approval_supersede_with_deployment(actor=actor, approval=approval, reason=reason)
        else:
            approval_supersede(actor=actor, approval=approval, reason=reason)
        voided.append(approval)
    _cancel_approved(
        Deployment.objects.filter(model_version=version),
        actor=actor,
        reason=f"Its approval no longer applies: {reason}.",
    )
    return voided


def _cancel_approved(deployments: QuerySet[Deployment], *, actor: Actor, reason: str) -> None:
    """Cancel those of ``deployments`` approved but not rolled out yet, inside the caller's
    transaction."""
    waiting = deployments.filter(state=DeploymentState.APPROVED).select_for_update()
    for deployment in waiting:
        deployment_transition(actor=actor, deployment=deployment, to="cancelled", reason=reason)


@transaction.atomic
def version_tampered(
    *, actor: Actor, version: ModelVersion, found_digest: str, changes: list[str]
) -> Incident | None:
    """Mark ``version`` tampered (``changes`` say which files differ); None if it already was."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.tampered:
        return None
    now = timezone.now()
    report = "; ".join(changes) or "the files differ"
    version.tampered_at, version.tamper_report, version.artifacts_checked_at = now, report, now
    version.save(update_fields=["tampered_at", "tamper_report", "artifacts_checked_at"])
    audit_record(
        actor=actor,
        action="version.artifact_tampered",
        object_type="model_version",
        object_id=version.pk,
        tenant_id=version.tenant_id,
        before={"artifact_digest": version.artifact_digest, "tampered": False},
        after={
            "artifact_digest_found": found_digest,
            "tampered": True,
            "changes": changes,
        },
    )
    voided = approvals_void_for_version(actor=actor, version=version, reason=TAMPERED)
    serving = list(
        version.deployments.filter(state__in=["deploying", "live"]).values_list("name", "revision")
    )
    return incident_open(
        actor=actor,
        tenant_id=version.tenant_id,
        title=(
            f"The artifact files of {version.model.name} v{version.version} changed in MLflow "
            "after the portal recorded them"
        ),
        severity="sev1" if serving else "sev2",
        description=(
            f"What changed: {report}. The portal recorded digest {version.artifact_digest}; "
            f"MLflow now serves files with digest {found_digest or 'none'}. "
            f"{len(voided)} approval(s) were voided; the version cannot be deployed or approved "
            "again. "
            + (
                "Serving revisions keep the copy the portal verified when they started: "
                + ", ".join(f"{name} r{revision}" for name, revision in serving)
                + ". "
                if serving
                else ""
            )
            + "Find out who wrote to the run's artifacts, then register the model again as a new "
            "version."
        ),
        source="artifact",
        model=version.model,
    )


def on_version_files_changed(
    *, actor: Actor, version: ModelVersion, found_digest: str, changes: list[str], **signal: object
) -> None:
    """Receives ``portal.catalog.signals.version_files_changed``."""
    version_tampered(actor=actor, version=version, found_digest=found_digest, changes=changes)
