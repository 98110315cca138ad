"""A version's model card, as a page of the unit's catalog.

A model's risk classification page is ``portal.deployments.views.workflow``'s.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.forms import CardReviewForm, ModelCardForm
from governance.models import CardStatus, ModelCard
from governance.services import cards
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest, PortalError
from tenants.routing import TenantRequest, tenant_page


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
        card = cards.card_update(actor=actor, card=card, editor=request.user, **edit.cleaned_data)
        return "Model card saved."
    card = cards.card_get_or_create(actor=actor, version=version)
    if action == "submit":
        cards.card_submit(actor=actor, card=card, submitter=request.user)
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
        "approval_refusal": cards.card_approval_refusal(card, request.user),
        "can_export_evidence": bool({"govern", "manage"} & capabilities),
        "in_review": card.status == CardStatus.IN_REVIEW,
        "is_draft": card.status == CardStatus.DRAFT,
    }
