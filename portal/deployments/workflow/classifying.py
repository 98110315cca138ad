"""Answering a model's risk questionnaire: the answers take effect through ``model_classify``,
or wait for a governance lead as a tier proposal; a lead's acceptance applies a proposal through
``model_classify`` too, so approvals and deployments react to every new tier the same way.

Which answers take effect and which wait is ``governance.services.classification``'s
(``classification_route``): the governed unit cannot lower its own tier, nor change what a
governance lead set, without a lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from governance.classification import classify
from governance.models import RiskClassification, TierProposal
from governance.selectors import classification_in_force
from governance.services.classification import (
    classification_authority,
    classification_route,
    classification_unchanged,
    tier_proposal_decide,
    tier_proposal_open,
    tier_proposals_supersede,
)
from portal.catalog.models import RegisteredModel, RiskTier
from portal.core.audit import Actor
from portal.deployments.workflow.voiding import model_classify
from tenants.models import User


@dataclass(frozen=True)
class Answered:
    """What became of the answers: a classification in force (new, or the same as before), or a
    proposal waiting for a governance lead; ``message`` says which in a sentence."""

    classification: RiskClassification | None
    proposal: TierProposal | None
    created: bool
    message: str


@transaction.atomic
def classification_submit(
    *, actor: Actor, model: RegisteredModel, answers: Any, user: User | None
) -> Answered:
    """Answer the questionnaire of ``model`` as ``actor`` (``user`` is the person answerable:
    the one signed in, or the creator of the token)."""
    result = classify(answers)
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    in_force = classification_in_force(model)
    authority = classification_authority(actor=actor, user=user)
    if in_force is not None and classification_unchanged(
        authority=authority, in_force=in_force, result=result
    ):
        tier_proposals_supersede(
            actor=actor, model=model, reason="The answers in force were given again."
        )
        return Answered(
            in_force, None, False, "These are the answers in force already; nothing changed."
        )
    why = classification_route(authority=authority, in_force=in_force, result=result)
    if why and in_force is not None:
        proposal = tier_proposal_open(
            actor=actor, model=model, result=result, in_force=in_force, why=why, user=user
        )
        return Answered(
            None,
            proposal,
            True,
            f"{why} They are a proposal of {_label(result.tier)} for a governance lead to accept "
            f"or reject; nothing changes until then ({model.name} stays {_label(in_force.tier)}).",
        )
    classification = model_classify(actor=actor, model=model, answers=answers, user=user)
    return Answered(
        classification,
        None,
        True,
        f"The classification takes effect: {model.name} is classified "
        f"{_label(classification.tier)}.",
    )


@transaction.atomic
def tier_proposal_accept(*, actor: Actor, proposal: TierProposal, lead: User) -> TierProposal:
    """A governance lead accepts the proposal: its answers take effect as the lead's."""
    proposal = tier_proposal_decide(actor=actor, proposal=proposal, lead=lead, accept=True)
    model_classify(actor=actor, model=proposal.model, answers=proposal.answers, user=lead)
    return proposal


def _label(tier: str) -> str:
    return RiskTier(tier).label.lower()
