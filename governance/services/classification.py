"""Classifying a registered model's EU AI Act risk from its questionnaire."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from governance.audit import Actor, audit_record
from governance.classification import classify
from governance.models import ApprovalRequest, RiskClassification
from governance.models.approvals import OPEN_APPROVAL_STATES
from portal.catalog.models import RegisteredModel, RiskTier


@transaction.atomic
def model_classify(
    *, actor: Actor, model: RegisteredModel, answers: Any, user: Any = None
) -> RiskClassification:
    """Store the answers and the tier they give, set the model's tier, and audit the change."""
    result = classify(answers)
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    previous = RiskClassification.objects.filter(model=model).first()
    classification = RiskClassification.objects.create(
        tenant_id=model.tenant_id,
        model=model,
        answers=result.answers,
        tier=result.tier,
        reasons=result.reasons,
        classifier_version=result.classifier_version,
        classified_by=user,
        classified_by_label=actor.label,
    )
    before_tier = model.risk_tier
    if model.risk_tier != result.tier:
        model.risk_tier = result.tier
        model.save(update_fields=["risk_tier"])
    audit_record(
        actor=actor,
        action="model.risk_classified",
        object_type="catalog_model",
        object_id=model.pk,
        tenant_id=model.tenant_id,
        before={"tier": before_tier, "answers": previous.answers if previous else None},
        after={
            "tier": result.tier,
            "answers": result.answers,
            "classifier_version": result.classifier_version,
            "classification": classification.pk,
        },
    )
    if before_tier != result.tier:
        _withdraw_cover(actor=actor, model=model, tier=result.tier)
    return classification


def _withdraw_cover(*, actor: Actor, model: RegisteredModel, tier: str) -> None:
    """A new tier voids the open approvals of the model's versions; a prohibited tier also
    cancels deployments that were approved but have not rolled out."""
    from governance.services.approvals import approval_supersede_with_deployment
    from portal.deployments.models import Deployment, DeploymentState
    from portal.deployments.services import deployment_transition

    open_approvals = ApprovalRequest.objects.filter(
        model_version__model=model, state__in=OPEN_APPROVAL_STATES
    ).select_for_update()
    for approval in open_approvals:
        approval_supersede_with_deployment(
            actor=actor, approval=approval, reason="the model's risk tier changed"
        )
    if tier == RiskTier.PROHIBITED:
        waiting = Deployment.objects.filter(
            model_version__model=model, state=DeploymentState.APPROVED
        ).select_for_update()
        for deployment in waiting:
            deployment_transition(
                actor=actor,
                deployment=deployment,
                to="cancelled",
                reason="The model is now classified as prohibited; it is never deployed.",
            )
