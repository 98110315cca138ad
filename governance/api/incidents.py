"""API: a tenant's incidents, their timelines and resolutions."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.filters import IncidentFilter
from governance.models import Incident
from governance.serializers import (
    IncidentChangeSerializer,
    IncidentDetailSerializer,
    IncidentEntrySerializer,
    IncidentNoteSerializer,
    IncidentOpenSerializer,
    IncidentSerializer,
)
from governance.services.incidents import incident_change, incident_note, incident_open
from portal.catalog.models import ModelVersion, RegisteredModel
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest
from tenants.routing import TenantScopedAPIView

# Governance leads take part in incidents as much as the unit's engineers.
WRITERS = ("write", "govern")


class IncidentListView(TenantScopedAPIView, generics.ListCreateAPIView):
    """The tenant's incidents, newest first, filtered as the list page filters them (?status=,
    ?severity=, ?q=). POST opens one."""

    serializer_class = IncidentSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": WRITERS}
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter

    def get_queryset(self) -> QuerySet[Incident]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request, no tenant
            return Incident._base_manager.none()
        return Incident.objects.select_related("model").order_by("-opened_at", "-id")

    @extend_schema(request=IncidentOpenSerializer, responses={201: IncidentDetailSerializer})
    def post(self, request: Request, tenant: str) -> Response:
        data = IncidentOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data)
        model = None
        if name := given.pop("model", None):
            model = RegisteredModel.objects.filter(name=name).first()
            if model is None:
                raise InvalidRequest(f"There is no model '{name}' in this tenant.")
        deployment_id = given.pop("deployment", None)
        # A deployment of this tenant serves one of the tenant's versions.
        if deployment_id and not ModelVersion.objects.filter(deployments=deployment_id).exists():
            raise InvalidRequest(f"There is no deployment {deployment_id} in this tenant.")
        incident = incident_open(
            actor=Actor.from_request(request),
            tenant_id=self.tenant.pk,
            model=model,
            deployment_id=deployment_id or None,
            **given,
        )
        return Response(IncidentDetailSerializer(incident).data, status=status.HTTP_201_CREATED)


class IncidentDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One incident with its timeline. PATCH changes status or severity (resolving needs a resolution)."""

    serializer_class = IncidentDetailSerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "PATCH": WRITERS}

    def get(self, request: Request, tenant: str, incident_id: int) -> Response:
        return Response(
            IncidentDetailSerializer(get_object_or_404(Incident.objects.all(), pk=incident_id)).data
        )

    @extend_schema(request=IncidentChangeSerializer, responses=IncidentDetailSerializer)
    def patch(self, request: Request, tenant: str, incident_id: int) -> Response:
        incident = get_object_or_404(Incident.objects.all(), pk=incident_id)
        data = IncidentChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = incident_change(
            actor=Actor.from_request(request), incident=incident, **data.validated_data
        )
        return Response(IncidentDetailSerializer(incident).data)


class IncidentEntryView(TenantScopedAPIView, generics.GenericAPIView):
    """Add a note to the incident's timeline."""

    serializer_class = IncidentEntrySerializer
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": WRITERS}

    @extend_schema(request=IncidentNoteSerializer, responses={201: IncidentEntrySerializer})
    def post(self, request: Request, tenant: str, incident_id: int) -> Response:
        incident = get_object_or_404(Incident.objects.all(), pk=incident_id)
        data = IncidentNoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = incident_note(
            actor=Actor.from_request(request), incident=incident, **data.validated_data
        )
        return Response(IncidentEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
