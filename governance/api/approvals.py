"""API: the approval queue and one approval request.

Governance leads and platform admins see every tenant's requests, riskiest and oldest first;
everyone else sees the requests of the tenants they belong to (a token: its own tenant). A
request outside what the caller may see is a 404, the same as a missing one. Deciding and
withdrawing a request move its deployment, and are ``portal.deployments.api.workflow``'s.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance.filters import ApprovalFilter
from governance.models import ApprovalRequest
from governance.selectors import approvals_listed, visible_approvals
from governance.serializers import ApprovalSerializer
from portal.core.errors import NotFound


def visible_approval(request: Request, approval_id: int) -> ApprovalRequest:
    """The approval request ``approval_id`` if the caller may see it; a 404 otherwise."""
    approval = visible_approvals(request.user).filter(pk=approval_id).first()
    if approval is None:
        raise NotFound("Not found.")
    return approval


class ApprovalListView(generics.ListAPIView):
    """The approval queue: every tenant's requests for governance, your tenants' for others."""

    serializer_class = ApprovalSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApprovalFilter

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return ApprovalRequest._base_manager.none()
        return approvals_listed(self.request.user).order_by("risk_rank", "created_at", "id")


class ApprovalDetailView(generics.GenericAPIView):
    serializer_class = ApprovalSerializer

    def get(self, request: Request, approval_id: int) -> Response:
        return Response(ApprovalSerializer(visible_approval(request, approval_id)).data)
