"""Classifying a registered model's EU AI Act risk from its questionnaire.

What a new tier does to the approvals and deployments of the model is
``portal.deployments.workflow.model_classify``'s, which records the classification through here.
"""

from __future__ import annotations

from typing import Any

from governance.classification import classify
from governance.models import RiskClassification
from portal.catalog.models import RegisteredModel
from portal.core.audit import Actor, audit_record
from tenants.models import User


def risk_classification_record(
    *, actor: Actor, model: RegisteredModel, answers: Any, user: User | None = None
) -> tuple[RiskClassification, str]:
    """Store the answers and the tier they give, set the model's tier, and audit the change,
    inside the caller's transaction; returns the classification and the tier the model had."""
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
    return classification, before_tier
