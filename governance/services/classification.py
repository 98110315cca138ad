"""Classifying a registered model's EU AI Act risk from its questionnaire, and the tier proposals
by which the governed unit asks for a tier it may not set itself.

A governance lead's answers always take effect. The unit's (its people, or its tokens) take
effect when the model has no classification yet, when they raise the tier, or when they keep
the tier of the unit's own classification; when they lower the tier, or change the answers a
governance lead set, they become a tier proposal that a lead accepts or rejects
(``classification_route`` decides which). What a new tier does to the approvals and deployments
of the model is ``portal.deployments.workflow.model_classify``'s, which records the
classification through here; accepting a proposal goes through it too.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.classification import Classification, answers_diff, classify
from governance.models import (
    ClassificationAuthority,
    ProposalState,
    RiskClassification,
    TierProposal,
)
from governance.services.approvals import RISK_RANK
from governance.services.notify import notify_tier_proposal_decided, notify_tier_proposal_opened
from portal.catalog.models import RegisteredModel, RiskTier
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest, NotAllowed
from tenants.models import PlatformRole, User

TOKENS_NEVER_CONFIRM = (
    "Tokens never confirm a tier: a governance lead, signed in, accepts or rejects a tier proposal."
)


def is_governance_lead(user: User | None) -> bool:
    """Whether ``user`` is a governance lead: the one role whose classification is authoritative
    and who decides tier proposals (platform admins do not, as they do not decide approvals)."""
    return user is not None and user.platform_role == PlatformRole.GOVERNANCE_LEAD


def classification_authority(*, actor: Actor, user: User | None) -> str:
    """Governance for a governance lead acting as themselves; the unit for everyone else, a token
    included, whoever created it."""
    if actor.type == "user" and is_governance_lead(user):
        return ClassificationAuthority.GOVERNANCE
    return ClassificationAuthority.UNIT


def classification_route(
    *, authority: str, in_force: RiskClassification | None, result: Classification
) -> str:
    """Why answers wait for a governance lead as a tier proposal; empty when they take effect."""
    if authority == ClassificationAuthority.GOVERNANCE or in_force is None:
        return ""
    proposed, current = RISK_RANK[result.tier], RISK_RANK[in_force.tier]
    if proposed < current:  # a lower rank is a riskier tier: a raise
        return ""
    if proposed > current:
        return (
            f"The answers give a lower tier ({_label(result.tier)}) than the one in force "
            f"({_label(in_force.tier)})."
        )
    if in_force.set_by == ClassificationAuthority.GOVERNANCE and result.answers != in_force.answers:
        return "The answers differ from those a governance lead set."
    return ""


def classification_unchanged(
    *, authority: str, in_force: RiskClassification | None, result: Classification
) -> bool:
    """Whether the answers restate the classification in force, by the same or a lesser
    authority: nothing is recorded (a lead restating the unit's answers makes them governance's)."""
    return (
        in_force is not None
        and in_force.answers == result.answers
        and in_force.tier == result.tier
        and in_force.classifier_version == result.classifier_version
        and (in_force.set_by == authority or authority == ClassificationAuthority.UNIT)
    )


def risk_classification_record(
    *, actor: Actor, model: RegisteredModel, answers: Any, user: User | None = None
) -> tuple[RiskClassification, str]:
    """Store the answers and the tier they give, set the model's tier, and audit the change,
    inside the caller's transaction; returns the classification and the tier the model had.

    Who set the tier follows ``classification_authority``; open tier proposals of the model no
    longer apply to the classification in force and are superseded."""
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
        set_by=classification_authority(actor=actor, user=user),
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
            "set_by": classification.set_by,
        },
    )
    tier_proposals_supersede(actor=actor, model=model, reason="A newer classification took effect.")
    return classification, before_tier


def tier_proposal_open(
    *,
    actor: Actor,
    model: RegisteredModel,
    result: Classification,
    in_force: RiskClassification,
    why: str,
    user: User | None,
) -> TierProposal:
    """Keep the unit's answers as a proposal a governance lead decides on, inside the caller's
    transaction; a proposal still open for the model is superseded by it."""
    tier_proposals_supersede(actor=actor, model=model, reason="The unit proposed newer answers.")
    proposal = TierProposal.objects.create(
        tenant_id=model.tenant_id,
        model=model,
        based_on=in_force,
        answers=result.answers,
        tier=result.tier,
        reasons=result.reasons,
        classifier_version=result.classifier_version,
        why=why,
        proposed_by=user,
        proposed_by_label=actor.label,
    )
    audit_record(
        actor=actor,
        action="proposal.opened",
        object_type="tier_proposal",
        object_id=proposal.pk,
        tenant_id=model.tenant_id,
        after={
            "model": model.pk,
            "tier_in_force": in_force.tier,
            "tier": proposal.tier,
            "answers": proposal.answers,
            "changed": [change.question.key for change in tier_proposal_diff(proposal)],
            "why": why,
        },
    )
    notify_tier_proposal_opened(proposal, diff=tier_proposal_diff(proposal))
    return proposal


def tier_proposal_diff(proposal: TierProposal) -> list:
    """The questions the proposal answers differently from the classification it was based on."""
    return answers_diff(proposal.based_on.answers, proposal.answers)


def tier_proposal_decide(
    *, actor: Actor, proposal: TierProposal, lead: User, accept: bool, comment: str = ""
) -> TierProposal:
    """Close an open proposal as accepted or rejected by ``lead``, audit and announce it, inside
    the caller's transaction. Applying an accepted one is the caller's
    (``portal.deployments.workflow.tier_proposal_accept``)."""
    if actor.type != "user" or not is_governance_lead(lead):
        raise NotAllowed(
            TOKENS_NEVER_CONFIRM
            if actor.type != "user"
            else "Only governance leads decide on tier proposals."
        )
    comment = comment.strip()
    if not accept and not comment:
        raise InvalidRequest("Say why you reject the proposal: a comment is required.")
    proposal = TierProposal.objects.select_for_update().select_related("model").get(pk=proposal.pk)
    if not proposal.is_open:
        raise Conflict(
            f"This proposal is {proposal.get_state_display().lower()}; it can no longer be decided."
        )
    proposal.state = ProposalState.ACCEPTED if accept else ProposalState.REJECTED
    proposal.decided_by, proposal.decided_by_label = lead, actor.label
    proposal.comment, proposal.decided_at = comment, timezone.now()
    proposal.save(
        update_fields=["state", "decided_by", "decided_by_label", "comment", "decided_at"]
    )
    audit_record(
        actor=actor,
        action=f"proposal.{proposal.state}",
        object_type="tier_proposal",
        object_id=proposal.pk,
        tenant_id=proposal.tenant_id,
        before={"state": ProposalState.OPEN},
        after={"state": proposal.state, "tier": proposal.tier, "comment": comment},
    )
    notify_tier_proposal_decided(proposal)
    return proposal


@transaction.atomic
def tier_proposal_reject(
    *, actor: Actor, proposal: TierProposal, lead: User, comment: str
) -> TierProposal:
    """A governance lead rejects the proposal with a comment; the tier in force stays."""
    return tier_proposal_decide(
        actor=actor, proposal=proposal, lead=lead, accept=False, comment=comment
    )


def tier_proposals_supersede(*, actor: Actor, model: RegisteredModel, reason: str) -> None:
    """Supersede the model's open proposal, if any, inside the caller's transaction."""
    for proposal in TierProposal.objects.filter(
        model=model, state=ProposalState.OPEN
    ).select_for_update():
        proposal.state, proposal.decided_at = ProposalState.SUPERSEDED, timezone.now()
        proposal.save(update_fields=["state", "decided_at"])
        audit_record(
            actor=actor,
            action="proposal.superseded",
            object_type="tier_proposal",
            object_id=proposal.pk,
            tenant_id=proposal.tenant_id,
            before={"state": ProposalState.OPEN},
            after={"state": proposal.state, "reason": reason},
        )


def _label(tier: str) -> str:
    return RiskTier(tier).label.lower()
