"""A model's risk classification and a version's model card, as pages of the unit's catalog."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.audit import Actor
from governance.classification import CLASSIFIER_VERSION, QUESTIONS
from governance.forms import CardReviewForm, ClassificationForm, ModelCardForm
from governance.models import CardStatus, ModelCard, RiskClassification
from governance.services import cards
from portal.catalog.models import ModelVersion, RegisteredModel, RiskTier
from portal.deployments.workflow import model_classify
from portal.errors import InvalidRequest, PortalError
from tenants.routing import TenantRequest, tenant_page

CLASSIFIERS = {"write", "govern"}
HISTORY_SHOWN = 50


@tenant_page("read")
def model_classification(request: TenantRequest, name: str) -> HttpResponse:
    """The EU AI Act questionnaire, prefilled with the answers in force; answering sets the tier."""
    model = get_object_or_404(RegisteredModel.objects.all(), name=name)
    history = list(RiskClassification.objects.filter(model=model)[:HISTORY_SHOWN])
    current = history[0] if history else None
    can_classify = bool(CLASSIFIERS & request.capabilities)
    form = ClassificationForm(
        request.POST if request.method == "POST" else None,
        answers=current.answers if current else None,
    )
    if request.method == "POST":
        if not can_classify:
            raise PermissionDenied("Your role in this unit cannot classify models.")
        if form.is_valid():
            try:
                classification = model_classify(
                    actor=Actor.user(request.user),
                    model=model,
                    answers=form.answers(),
                    user=request.user,
                )
            except PortalError as problem:
                form.add_error(None, problem.detail)
            else:
                tier = RiskTier(classification.tier).label.lower()
                messages.success(request, f"{model.name} is classified {tier}.")
                return redirect("model-classification", tenant=request.tenant.slug, name=name)
    return render(
        request,
        "governance/classification.html",
        {
            "tenant": request.tenant,
            "model": model,
            "current": current,
            "history": history,
            "form": form,
            "can_classify": can_classify,
            "questions": QUESTIONS,
            "classifier_version": CLASSIFIER_VERSION,
        },
        status=400 if request.method == "POST" else 200,
    )


@transaction.atomic  # a refused action leaves no new card behind
def _card_action(
    request: TenantRequest, version: ModelVersion, action: str, edit: ModelCardForm
) -> str:
    """Carry out one action on the card; returns the message to show, or "" when the form is
    not valid. Raises PermissionDenied or a PortalError."""
    actor = Actor.user(request.user)
    needed = "govern" if action in ("approve", "return") else "write"
    if needed not in request.capabilities:
        raise PermissionDenied("Your role in this unit cannot do this to the model card.")
    if action == "save":
        if not edit.is_valid():
            return ""
        card = cards.card_get_or_create(actor=actor, version=version)
        card = cards.card_update(actor=actor, card=card, **edit.cleaned_data)
        return "Model card saved."
    card = cards.card_get_or_create(actor=actor, version=version)
    if action == "submit":
        cards.card_submit(actor=actor, card=card)
        return "The card is sent to governance for review."
    if action in ("approve", "return"):
        review = CardReviewForm(request.POST)
        comment = review.cleaned_data["comment"] if review.is_valid() else ""
        cards.card_review(
            actor=actor,
            reviewer=request.user,
            card=card,
            approve=action == "approve",
            comment=comment,
        )
        return "The card is approved." if action == "approve" else "The card is back in draft."
    raise InvalidRequest("Choose save, submit, approve or return.")


@tenant_page("read")
def model_card(request: TenantRequest, name: str, version: int) -> HttpResponse:
    """A version's model card: its completeness, the edit form and the review steps."""
    found = get_object_or_404(
        ModelVersion.objects.select_related("model"), model__name=name, version=version
    )
    edit = ModelCardForm(request.POST if request.POST.get("action") == "save" else None)
    error, status = "", 200
    if request.method == "POST":
        try:
            done = _card_action(request, found, request.POST.get("action", ""), edit)
        except PortalError as problem:
            error, status = problem.detail, problem.status_code
        else:
            if done:
                messages.success(request, done)
                return redirect(
                    "model-card", tenant=request.tenant.slug, name=name, version=version
                )
            status = 400
    card = cards.card_or_draft(found)
    if not edit.is_bound:
        edit = ModelCardForm(initial={field: getattr(card, field) for field in cards.TEXT_FIELDS})
    percent, missing = cards.card_completeness(card, found)
    return render(
        request,
        "governance/card.html",
        {
            "tenant": request.tenant,
            "version": found,
            "card": card,
            "saved": card.pk is not None,
            "percent": percent,
            "missing": missing,
            "form": edit,
            "review_form": CardReviewForm(),
            "error": error,
            **_card_permissions(request, card),
        },
        status=status,
    )


def _card_permissions(request: TenantRequest, card: ModelCard) -> dict[str, Any]:
    capabilities = request.capabilities
    return {
        "can_edit": "write" in capabilities,
        "can_review": "govern" in capabilities,
        "can_export_evidence": bool({"govern", "manage"} & capabilities),
        "in_review": card.status == CardStatus.IN_REVIEW,
        "is_draft": card.status == CardStatus.DRAFT,
    }
