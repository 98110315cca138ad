"""API: the approval queue and one approval request.

Governance leads and platform admins see every tenant's requests, riskiest and oldest first;
everyone else sees the requests of the tenants they belong to (a token: its own tenant). A
request outside what the caller may see is a 404, the same as a missing one. Deciding and
withdrawing a request move its deployment, and are ``portal.deployments.workflow_api``'s.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance.filters import ApprovalFilter
from governance.models import ApprovalDecision, ApprovalRequest
from governance.serializers import ApprovalSerializer
from portal.errors import NotFound
from tenants.access import platform_role_of
from tenants.models import Membership, PlatformRole

QUEUE_READERS = {PlatformRole.GOVERNANCE_LEAD, PlatformRole.PLATFORM_ADMIN}


def visible_approvals(principal: Any) -> QuerySet[ApprovalRequest]:
    """The approval requests ``principal`` may see (a cross-tenant read, filtered by access)."""
    decisions = ApprovalDecision.objects.dangerously_across_tenants().select_related("reviewer")
    approvals = (
        ApprovalRequest.objects.dangerously_across_tenants()
        .select_related("tenant", "model_version__model", "deployment", "policy_version")
        .prefetch_related(Prefetch("decisions", queryset=decisions))
    )
    if platform_role_of(principal) in QUEUE_READERS:
        return approvals
    token = getattr(principal, "token", None)
    if token is not None:
        if "read" not in token.scopes:
            return approvals.none()
        return approvals.filter(tenant_id=token.tenant_id, tenant__active=True)
    tenant_ids = Membership.objects.dangerously_across_tenants().filter(user_id=principal.pk)
    return approvals.filter(tenant_id__in=tenant_ids.values("tenant_id"), tenant__active=True)


# What a list of approval requests never shows: the policy's document, and the JSON and text of
# the model version, the model and the deployment (a request's own page reads them).
NOT_LISTED = (
    "policy_version__document",
    "policy_version__description",
    "model_version__description",
    "model_version__aliases",
    "model_version__mlflow_tags",
    "model_version__metrics",
    "model_version__params",
    "model_version__datasets",
    "model_version__signature",
    "model_version__details_error",
    "model_version__model__description",
    "model_version__model__use_case",
    "model_version__model__intended_use",
    "model_version__model__limitations",
    "model_version__model__mlflow_tags",
    "model_version__model__aliases",
    "deployment__serving",
    "deployment__decision",
)


def approvals_listed(principal: Any) -> QuerySet[ApprovalRequest]:
    """``visible_approvals`` for a list: without what only a request's own page shows."""
    return visible_approvals(principal).defer(*NOT_LISTED)


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
