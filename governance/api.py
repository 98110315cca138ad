"""API: the audit trail, for governance leads and platform admins."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance import selectors
from governance.serializers import AuditEventFilterSerializer, AuditEventSerializer
from portal.errors import NotAllowed
from tenants.access import platform_role_of
from tenants.models import PlatformRole

AUDIT_READERS = {PlatformRole.GOVERNANCE_LEAD, PlatformRole.PLATFORM_ADMIN}


class AuditEventListView(generics.GenericAPIView):
    """Audit events of every tenant, newest first, with filters."""

    serializer_class = AuditEventSerializer

    @extend_schema(parameters=[AuditEventFilterSerializer], responses=AuditEventSerializer(many=True))
    def get(self, request: Request) -> Response:
        if platform_role_of(request.user) not in AUDIT_READERS:
            raise NotAllowed("The audit trail is open to governance leads and platform admins.")
        filters = AuditEventFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = selectors.audit_events_across_tenants(
            tenant_slug=filters.validated_data.get("tenant"), **{
                key: value for key, value in filters.validated_data.items() if key != "tenant"
            },
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
