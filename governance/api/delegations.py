"""API: governance leads' delegations. Governance leads and platform admins list them; a lead
names a delegate for a period (POST) and ends it early (``{id}/end/``). Anyone else gets a 403
for the list and a 404 for a delegation, the same as a missing one.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import Delegation
from governance.selectors import delegations_visible_to
from governance.serializers import DelegationCreateSerializer, DelegationSerializer
from governance.services.delegations import delegation_create, delegation_end
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest, NotFound
from tenants.access import GOVERNANCE_ROLES, person_required
from tenants.models import User
from tenants.routing import PlatformWideAPIView


class DelegationListView(PlatformWideAPIView, generics.ListAPIView):
    """Every delegation, newest first. POST: a governance lead names a delegate for a period."""

    serializer_class = DelegationSerializer
    platform_roles = GOVERNANCE_ROLES
    platform_denied = "Delegations are open to governance leads and platform admins."

    def get_queryset(self) -> QuerySet[Delegation]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return Delegation.objects.none()
        return delegations_visible_to(self.request.user)

    @extend_schema(request=DelegationCreateSerializer, responses={201: DelegationSerializer})
    def post(self, request: Request) -> Response:
        lead = person_required(request, why="Only a person names a delegate.")
        data = DelegationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        delegate = User.objects.filter(username=given["delegate"]).first()
        if delegate is None:
            raise InvalidRequest(f"Nobody is called {given['delegate']}; name a governance lead.")
        delegation = delegation_create(
            actor=Actor.from_request(request),
            lead=lead,
            delegate=delegate,
            starts_at=given["starts_at"],
            ends_at=given["ends_at"],
            note=given["note"],
        )
        return Response(DelegationSerializer(delegation).data, status=status.HTTP_201_CREATED)


class DelegationEndView(generics.GenericAPIView):
    """End a delegation now (its lead, or a platform admin)."""

    serializer_class = DelegationSerializer

    @extend_schema(request=None, responses=DelegationSerializer)
    def post(self, request: Request, delegation_id: int) -> Response:
        delegation = delegations_visible_to(request.user).filter(pk=delegation_id).first()
        if delegation is None:
            raise NotFound("Not found.")
        ended = delegation_end(
            actor=Actor.from_request(request),
            delegation=delegation,
            by=person_required(request, why="Only a person ends a delegation."),
        )
        return Response(DelegationSerializer(ended).data)
