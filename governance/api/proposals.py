"""API: the tier proposals of a tenant, the open ones across it and those of one model.

A proposal is the unit's answers to a model's risk questionnaire that wait for a governance lead
(see ``governance.services.classification``). Accepting one applies its tier to the model's
approvals and deployments, and is ``portal.deployments.api.workflow``'s, as is rejecting it.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import ProposalState, TierProposal
from governance.selectors import tier_proposals
from governance.serializers import TierProposalSerializer
from portal.catalog.models import RegisteredModel
from tenants.routing import TenantScopedAPIView


class OpenTierProposalListView(TenantScopedAPIView, generics.ListAPIView):
    """The tenant's open tier proposals, newest first: what waits for a governance lead."""

    serializer_class = TierProposalSerializer

    def get_queryset(self) -> QuerySet[TierProposal]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request, no tenant
            return TierProposal._base_manager.none()
        return tier_proposals().filter(state=ProposalState.OPEN)


class ModelTierProposalListView(TenantScopedAPIView, generics.ListAPIView):
    """Every tier proposal of one model, newest first, open and decided."""

    serializer_class = TierProposalSerializer

    def get_queryset(self) -> QuerySet[TierProposal]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request, no tenant
            return TierProposal._base_manager.none()
        model = get_object_or_404(RegisteredModel.objects.all(), name=self.kwargs["name"])
        return tier_proposals().filter(model=model)


class TierProposalDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One tier proposal with its diff of answers, its state and the lead's decision."""

    serializer_class = TierProposalSerializer

    def get(self, request: Request, tenant: str, proposal_id: int) -> Response:
        proposal = get_object_or_404(tier_proposals(), pk=proposal_id)
        return Response(TierProposalSerializer(proposal).data)
