"""API: a tenant's deployments. POST requests one; the governance policy decides what it needs."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import ApprovalRequest
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest
from portal.deployments import rollout, workflow
from portal.deployments.filters import ORDERINGS, DeploymentFilter
from portal.deployments.models import Deployment
from portal.deployments.selectors import deployments_listed
from portal.deployments.serializers import (
    DeploymentDetailSerializer,
    DeploymentRequestSerializer,
    DeploymentSerializer,
    RollbackSerializer,
)
from portal.deployments.services import DeploymentSpec
from tenants.access import person_answerable_for
from tenants.routing import TenantScopedAPIView


def _deployments() -> QuerySet[Deployment]:
    dates_only = ApprovalRequest.objects.only("id", "deployment_id", "created_at")
    return deployments_listed().prefetch_related(Prefetch("approvals", queryset=dates_only))


class DeploymentListView(TenantScopedAPIView, generics.ListAPIView):
    """The tenant's deployments, newest first unless sorted, filtered as the list page filters
    them. POST requests a deployment of a model version."""

    serializer_class = DeploymentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DeploymentFilter

    def get_queryset(self) -> QuerySet[Deployment]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request, no tenant
            return Deployment._base_manager.none()
        return _deployments().order_by(*ORDERINGS["newest"])

    @extend_schema(request=DeploymentRequestSerializer, responses={201: DeploymentSerializer})
    def post(self, request: Request, tenant: str) -> Response:
        data = DeploymentRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data)
        version = (
            ModelVersion.objects.select_related("model")
            .filter(model__name=given.pop("model"), version=given.pop("version"))
            .first()
        )
        if version is None:
            raise InvalidRequest("There is no such model version in this tenant's catalog.")
        deployment = workflow.deployment_request(
            actor=Actor.from_request(request),
            tenant=self.tenant,
            spec=DeploymentSpec(version=version, **given),
            user=person_answerable_for(request),
        )
        return Response(
            DeploymentSerializer(_deployments().get(pk=deployment.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class DeploymentDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One deployment (a revision of its endpoint) with all the endpoint's revisions."""

    serializer_class = DeploymentDetailSerializer

    def get(self, request: Request, tenant: str, deployment_id: int) -> Response:
        return Response(
            DeploymentDetailSerializer(get_object_or_404(_deployments(), pk=deployment_id)).data
        )


class DeploymentRollbackView(TenantScopedAPIView, generics.GenericAPIView):
    """Give the endpoint's traffic back to its previous healthy revision, which is still warm."""

    serializer_class = RollbackSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": "deploy"}

    @extend_schema(request=RollbackSerializer, responses=DeploymentDetailSerializer)
    def post(self, request: Request, tenant: str, deployment_id: int) -> Response:
        deployment = get_object_or_404(Deployment.objects.all(), pk=deployment_id)
        given = RollbackSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        serving = rollout.deployment_rollback(
            actor=Actor.from_request(request),
            deployment=deployment,
            reason=given.validated_data.get("reason", ""),
        )
        return Response(DeploymentDetailSerializer(_deployments().get(pk=serving.pk)).data)


class DeploymentResubmitView(TenantScopedAPIView, generics.GenericAPIView):
    """After reviewers asked for changes, ask the policy again (a new approval request)."""

    serializer_class = DeploymentSerializer

    @extend_schema(request=None, responses=DeploymentSerializer)
    def post(self, request: Request, tenant: str, deployment_id: int) -> Response:
        deployment = get_object_or_404(Deployment.objects.all(), pk=deployment_id)
        workflow.deployment_resubmit(actor=Actor.from_request(request), deployment=deployment)
        return Response(DeploymentSerializer(_deployments().get(pk=deployment_id)).data)
