"""API: the approval queue and one approval request.

Governance leads and platform admins see every tenant's requests, riskiest and oldest first;
everyone else sees the requests of the tenants they belong to (a token: its own tenant). A
request outside what the caller may see is a 404, the same as a missing one. Deciding and
withdrawing a request move its deployment, and are ``portal.deployments.workflow_api``'s.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import ApprovalDecision, ApprovalRequest
from governance.serializers import ApprovalFilterSerializer, ApprovalSerializer
from portal.errors import NotFound
from tenants.access import GOVERNANCE_ROLES
from tenants.selectors import unit_records_visible_to


def visible_approvals(principal: Any) -> QuerySet[ApprovalRequest]:
    """The approval requests ``principal`` may see (a cross-tenant read, filtered by access)."""
    decisions = ApprovalDecision.objects.dangerously_across_tenants().select_related("reviewer")
    approvals = (
        ApprovalRequest.objects.dangerously_across_tenants()
        .select_related("tenant", "model_version__model", "deployment", "policy_version")
        .prefetch_related(Prefetch("decisions", queryset=decisions))
    )
    return unit_records_visible_to(principal, approvals, readers=GOVERNANCE_ROLES)


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
