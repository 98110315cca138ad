"""API: a version's model card and its evidence pack.

A model's risk classification, which voids the cover of its approvals when the tier changes, is
``portal.deployments.api.workflow``'s.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance.cards_render import card_markdown, card_pdf
from governance.models import ModelCard
from governance.serializers import (
    CardReviewSerializer,
    ModelCardSerializer,
    ModelCardUpdateSerializer,
)
from governance.services import cards
from governance.services.evidence import evidence_pack
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor
from portal.core.downloads import content_disposition
from tenants.access import person_answerable_for
from tenants.routing import TenantScopedAPIView


def _version(name: str, version: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("model"), model__name=name, version=version
    )


def _card(request: Request, name: str, version: int) -> ModelCard:
    return cards.card_get_or_create(
        actor=Actor.from_request(request), version=_version(name, version)
    )


class ModelCardView(TenantScopedAPIView, generics.GenericAPIView):
    """A version's model card. GET shows it (prefilled from the catalog and MLflow until saved);
    PATCH edits its text (engineers, owners)."""

    serializer_class = ModelCardSerializer

    def get(self, request: Request, tenant: str, name: str, version: int) -> Response:
        return Response(ModelCardSerializer(cards.card_or_draft(_version(name, version))).data)

    @extend_schema(request=ModelCardUpdateSerializer, responses=ModelCardSerializer)
    def patch(self, request: Request, tenant: str, name: str, version: int) -> Response:
        data = ModelCardUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        card = cards.card_update(
            actor=Actor.from_request(request),
            card=_card(request, name, version),
            editor=person_answerable_for(request),
            **data.validated_data,
        )
        return Response(ModelCardSerializer(card).data)


class ModelCardSubmitView(TenantScopedAPIView, generics.GenericAPIView):
    """Send a complete draft card to governance for review."""

    serializer_class = ModelCardSerializer

    @extend_schema(request=None, responses=ModelCardSerializer)
    def post(self, request: Request, tenant: str, name: str, version: int) -> Response:
        with transaction.atomic():  # a refused submission leaves no new card behind
            card = cards.card_submit(
                actor=Actor.from_request(request),
                card=_card(request, name, version),
                submitter=person_answerable_for(request),
            )
        return Response(ModelCardSerializer(card).data)


class ModelCardReviewView(TenantScopedAPIView, generics.GenericAPIView):
    """A governance lead approves a card in review, or returns it to draft with a comment. The
    card's last editor and its submitter may not approve it (403)."""

    serializer_class = ModelCardSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": "govern"}

    @extend_schema(request=CardReviewSerializer, responses=ModelCardSerializer)
    def post(self, request: Request, tenant: str, name: str, version: int) -> Response:
        data = CardReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():  # a refused review leaves no new card behind
            card = cards.card_review(
                actor=Actor.from_request(request),
                reviewer=request.user,
                card=_card(request, name, version),
                **data.validated_data,
            )
        return Response(ModelCardSerializer(card).data)


def _card_document(name: str, version: int) -> dict:
    return cards.card_document(cards.card_or_draft(_version(name, version)))


class ModelCardMarkdownView(TenantScopedAPIView, generics.GenericAPIView):
    """The card as Markdown."""

    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request: Request, tenant: str, name: str, version: int) -> HttpResponse:
        text = card_markdown(_card_document(name, version))
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = content_disposition(
            f"{name}-v{version}-card.md", inline=True
        )
        return response


class ModelCardPdfView(TenantScopedAPIView, generics.GenericAPIView):
    """The card as PDF."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, tenant: str, name: str, version: int) -> HttpResponse:
        data = card_pdf(_card_document(name, version))
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition(f"{name}-v{version}-card.pdf")
        return response


class EvidencePackView(TenantScopedAPIView, generics.GenericAPIView):
    """The version's evidence pack (ZIP) for regulators: governance leads and the unit's owners."""

    required_capabilities = {
        **TenantScopedAPIView.required_capabilities,
        "GET": ("govern", "manage"),
    }

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, tenant: str, name: str, version: int) -> HttpResponse:
        filename, data = evidence_pack(
            version=_version(name, version), generated_by=request.user.get_username()
        )
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = content_disposition(filename)
        return response
