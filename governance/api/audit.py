"""API: the audit trail, for governance leads and platform admins."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from governance import selectors
from governance.models import AuditEvent
from governance.serializers import AuditEventFilterSerializer, AuditEventSerializer
from tenants.routing import PlatformWideAPIView


class AuditEventListView(PlatformWideAPIView, generics.ListAPIView):
    """Audit events of every tenant, newest first, with filters."""

    serializer_class = AuditEventSerializer
    platform_roles = selectors.AUDIT_READERS
    platform_denied = "The audit trail is open to governance leads and platform admins."

    def get_queryset(self) -> QuerySet[AuditEvent]:
        filters = AuditEventFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        criteria = dict(filters.validated_data)
        return selectors.audit_events_across_tenants(
            tenant_slug=criteria.pop("tenant", None), **criteria
        )

    @extend_schema(parameters=[AuditEventFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
