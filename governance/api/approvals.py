"""API: the approval queue and one approval request.

Governance leads and platform admins see every tenant's requests, riskiest and oldest first;
everyone else sees the requests of the tenants they belong to (a token: its own tenant). A
request outside what the caller may see is a 404, the same as a missing one. Deciding and
withdrawing a request move its deployment, and are ``portal.deployments.api.workflow``'s.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import ApprovalRequest
from governance.selectors import approvals_listed, visible_approvals
from governance.serializers import ApprovalFilterSerializer, ApprovalSerializer
from portal.errors import NotFound


def visible_approval(request: Request, approval_id: int) -> ApprovalRequest:
    """The approval request ``approval_id`` if the caller may see it; a 404 otherwise."""
    approval = visible_approvals(request.user).filter(pk=approval_id).first()
    if approval is None:
        raise NotFound("Not found.")
    return approval


class ApprovalListView(generics.ListAPIView):
    """The approval queue: every tenant's requests for governance, your tenants' for others."""

    serializer_class = ApprovalSerializer

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        filters = ApprovalFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        approvals = approvals_listed(self.request.user)
        if state := filters.validated_data.get("state"):
            approvals = approvals.filter(state=state)
        if slug := filters.validated_data.get("tenant"):
            approvals = approvals.filter(tenant__slug=slug)
        return approvals.order_by("risk_rank", "created_at", "id")

    @extend_schema(parameters=[ApprovalFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ApprovalDetailView(generics.GenericAPIView):
    serializer_class = ApprovalSerializer

    def get(self, request: Request, approval_id: int) -> Response:
        return Response(ApprovalSerializer(visible_approval(request, approval_id)).data)
