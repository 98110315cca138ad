"""Model cards: prefilled from the catalog and MLflow, edited by the unit, approved by governance.

Four eyes: every edit records its editor and a submission its submitter (the person, and the
actor's label), and neither of them may approve the card; anyone with the role may return it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.models import CardStatus, ModelCard, RiskClassification
from portal.catalog.models import ModelVersion, RiskTier
from portal.core.audit import Actor, apply_updates, audit_record
from portal.core.errors import Conflict, InvalidRequest, NotAllowed
from tenants.models import User

TEXT_FIELDS = (
    "purpose",
    "intended_uses",
    "factors",
    "risk_explanation",
    "training_data",
    "limitations",
    "ethical_considerations",
    "owner",
)
# Every item a complete card has, in reading order; two of them come from the catalog itself.
COMPLETENESS_ITEMS: tuple[tuple[str, str], ...] = (
    ("purpose", "Purpose"),
    ("intended_uses", "Intended uses"),
    ("factors", "Factors affecting performance"),
    ("risk_rating", "Risk rating"),
    ("risk_explanation", "Risk explanation"),
    ("training_data", "Training data"),
    ("evaluation_metrics", "Evaluation metrics"),
    ("limitations", "Limitations"),
    ("ethical_considerations", "Ethical considerations"),
    ("owner", "Owner"),
)


def card_completeness(card: ModelCard | None, version: ModelVersion) -> tuple[int, list[str]]:
    """The share of the card's items that are filled in, and the labels of those still missing."""
    missing = []
    for key, label in COMPLETENESS_ITEMS:
        if key == "risk_rating":
            filled = bool(version.model.risk_tier)
        elif key == "evaluation_metrics":
            filled = bool(version.metrics)
        else:
            filled = bool(card is not None and getattr(card, key).strip())
        if not filled:
            missing.append(label)
    total = len(COMPLETENESS_ITEMS)
    return round(100 * (total - len(missing)) / total), missing


def _datasets_text(version: ModelVersion) -> str:
    lines = []
    for dataset in version.datasets or []:
        context = f" ({dataset.get('context')})" if dataset.get("context") else ""
        source = f", from {dataset['source']}" if dataset.get("source") else ""
        digest = f", digest {dataset['digest']}" if dataset.get("digest") else ""
        lines.append(f"Dataset '{dataset.get('name', 'unnamed')}'{context}{source}{digest}.")
    return "\n".join(lines)


def card_prefill(version: ModelVersion) -> dict[str, str]:
    """What the catalog, MLflow and the previous version's card already say."""
    model = version.model
    previous = (
        ModelCard.objects.filter(
            model_version__model=model, model_version__version__lt=version.version
        )
        .order_by("-model_version__version")
        .first()
    )
    classification = RiskClassification.objects.filter(model=model).first()
    values = {
        "purpose": model.use_case or model.description,
        "intended_uses": model.intended_use,
        "limitations": model.limitations,
        "owner": model.owner,
        "risk_explanation": " ".join(classification.reasons) if classification else "",
        "training_data": _datasets_text(version),
        "factors": "",
        "ethical_considerations": "",
    }
    if previous is not None:
        for name in TEXT_FIELDS:
            if not values[name] and getattr(previous, name):
                values[name] = getattr(previous, name)
    return values


def _locked(card: ModelCard) -> ModelCard:
    """The card as stored, locked until the change commits, so concurrent edits queue up."""
    return (
        ModelCard.objects.select_related("model_version__model").select_for_update().get(pk=card.pk)
    )


@transaction.atomic
def card_get_or_create(*, actor: Actor, version: ModelVersion) -> ModelCard:
    card = ModelCard.objects.filter(model_version=version).first()
    if card is not None:
        return card
    try:
        with transaction.atomic():
            card = ModelCard.objects.create(
                tenant_id=version.tenant_id, model_version=version, **card_prefill(version)
            )
    except IntegrityError:  # someone else created it a moment ago
        return ModelCard.objects.get(model_version=version)
    audit_record(
        actor=actor,
        action="model_card.created",
        object_type="model_card",
        object_id=card.pk,
        tenant_id=card.tenant_id,
        after={"model_version": version.pk, "status": card.status},
    )
    return card


@transaction.atomic
def card_update(*, actor: Actor, card: ModelCard, editor: User | None, **updates: str) -> ModelCard:
    """Edit the card's text; an edit to a card in review or approved sends it back to draft.

    ``editor`` is the person answerable for the edit (for a service token, whoever created it).
    """
    card = _locked(card)
    before, after = apply_updates(
        card,
        editable=TEXT_FIELDS,
        updates=updates,
        refusal="These card fields come from the catalog or are not editable",
    )
    if not after:
        return card
    if card.status != CardStatus.DRAFT:
        before["status"], after["status"] = card.status, CardStatus.DRAFT
        card.status, card.approved_by, card.approved_at = CardStatus.DRAFT, None, None
    card.last_edited_by, card.last_edited_by_label = editor, actor.label
    after["last_edited_by"] = actor.label
    card.updated_at = timezone.now()
    card.save()
    audit_record(
        actor=actor,
        action="model_card.updated",
        object_type="model_card",
        object_id=card.pk,
        tenant_id=card.tenant_id,
        before=before,
        after=after,
    )
    return card


def _transition(
    *, actor: Actor, card: ModelCard, to: str, action: str, extra: dict | None = None
) -> ModelCard:
    before = {"status": card.status}
    card.status = to
    card.updated_at = timezone.now()
    card.save()
    audit_record(
        actor=actor,
        action=action,
        object_type="model_card",
        object_id=card.pk,
        tenant_id=card.tenant_id,
        before=before,
        after={"status": to, **(extra or {})},
    )
    return card


@transaction.atomic
def card_submit(*, actor: Actor, card: ModelCard, submitter: User | None) -> ModelCard:
    """Send a complete draft to governance for review; ``submitter`` may not approve it."""
    card = _locked(card)
    if card.status != CardStatus.DRAFT:
        raise Conflict(
            f"Only a draft can be sent for review; this card is {card.get_status_display().lower()}."
        )
    percent, missing = card_completeness(card, card.model_version)
    if missing:
        raise InvalidRequest(
            f"The card is {percent}% complete; fill in {', '.join(missing)} first."
        )
    card.submitted_by, card.submitted_by_label = submitter, actor.label
    return _transition(
        actor=actor,
        card=card,
        to=CardStatus.IN_REVIEW,
        action="model_card.submitted",
        extra={"submitted_by": actor.label},
    )


def card_approval_refusal(card: ModelCard, reviewer: Any) -> str:
    """Why ``reviewer`` may not approve ``card`` (they edited it last or sent it for review), or
    "" when they may."""
    person = getattr(reviewer, "pk", None)
    if person is None:
        return ""
    if person == card.last_edited_by_id:
        return "You edited this card last; someone else must approve it."
    if person == card.submitted_by_id:
        return "You sent this card for review; someone else must approve it."
    return ""


@transaction.atomic
def card_review(
    *, actor: Actor, reviewer: Any, card: ModelCard, approve: bool, comment: str = ""
) -> ModelCard:
    """A governance lead approves a card in review, or returns it to draft with a comment.

    Its last editor and its submitter may return it but not approve it.
    """
    card = _locked(card)
    if card.status != CardStatus.IN_REVIEW:
        raise Conflict("Only a card in review can be approved or returned.")
    if approve:
        refusal = card_approval_refusal(card, reviewer)
        if refusal:
            raise NotAllowed(refusal)
        card.approved_by, card.approved_at = reviewer, timezone.now()
        return _transition(
            actor=actor,
            card=card,
            to=CardStatus.APPROVED,
            action="model_card.approved",
            extra={"comment": comment},
        )
    return _transition(
        actor=actor,
        card=card,
        to=CardStatus.DRAFT,
        action="model_card.returned",
        extra={"comment": comment},
    )


def card_summary(version: ModelVersion) -> dict[str, Any]:
    """The card's state as the policy context sees it (a version without a card is 0% filled)."""
    card = ModelCard.objects.filter(model_version=version).first()
    percent, missing = card_completeness(card, version)
    return {
        "completeness": percent,
        "complete": not missing,
        "status": card.status if card else "none",
        "approved": card is not None and card.status == CardStatus.APPROVED,
        "missing": missing,
    }


def card_document(card: ModelCard) -> dict[str, Any]:
    """The card as a plain mapping, the input of the Markdown and PDF renderers."""
    version = card.model_version
    model = version.model
    percent, missing = card_completeness(card, version)
    return {
        "model_name": model.name,
        "version": version.version,
        "tenant_name": card.tenant.name,
        "status": card.status,
        "completeness": percent,
        "missing": missing,
        **{name: getattr(card, name) for name in TEXT_FIELDS},
        "risk_rating": model.risk_tier,
        "risk_rating_label": RiskTier(model.risk_tier).label
        if model.risk_tier
        else "Not classified",
        "metrics": dict(version.metrics or {}),
        "params": dict(version.params or {}),
        "datasets": list(version.datasets or []),
        "run_id": version.run_id,
        "artifact_digest": version.artifact_digest,
        "updated_at": card.updated_at.isoformat(),
        "approved_by": card.approved_by.get_username() if card.approved_by else "",
        "approved_at": card.approved_at.isoformat() if card.approved_at else "",
    }


def card_or_draft(version: ModelVersion) -> ModelCard:
    """The version's card, or an unsaved draft prefilled from the catalog when none exists yet."""
    card = ModelCard.objects.filter(model_version=version).first()
    if card is None:
        card = ModelCard(
            tenant_id=version.tenant_id, model_version=version, **card_prefill(version)
        )
    return card
