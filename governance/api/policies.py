"""API: approval policies. Everyone signed in reads them; governance leads publish new versions.

The dry run of a request, built with the request's cost estimate, is
``portal.deployments.api.workflow``'s.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.audit import Actor
from governance.models import PolicyVersion
from governance.selectors import POLICY_PUBLISHERS, in_force_ids, policy_versions_visible_to
from governance.serializers import (
    PolicyPublishSerializer,
    PolicyVersionSerializer,
)
from governance.services.policies import (
    policy_publish,
)
from portal.errors import NotAllowed
from tenants.access import platform_role_of
from tenants.models import User


class PolicyListView(generics.ListAPIView):
    """Every version of every policy, newest first. POST publishes a new version (governance)."""

    serializer_class = PolicyVersionSerializer

    def get_queryset(self) -> QuerySet[PolicyVersion]:
        return policy_versions_visible_to(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "in_force_ids": in_force_ids()}

    @extend_schema(request=PolicyPublishSerializer, responses={201: PolicyVersionSerializer})
    def post(self, request: Request) -> Response:
        if platform_role_of(request.user) not in POLICY_PUBLISHERS:
            raise NotAllowed("Only governance leads publish policies.")
        data = PolicyPublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = policy_publish(
            actor=Actor.from_request(request),
            document=data.validated_data["document"],
            note=data.validated_data.get("note", ""),
            user=request.user if isinstance(request.user, User) else None,
        )
        return Response(
            PolicyVersionSerializer(version, context={"in_force_ids": in_force_ids()}).data,
            status=status.HTTP_201_CREATED,
        )
