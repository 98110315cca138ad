"""API: the audit trail, for governance leads and platform admins."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics

from governance import selectors
from governance.filters import AuditFilter
from governance.models import AuditEvent
from governance.serializers import AuditEventSerializer
from tenants.routing import PlatformWideAPIView


class AuditEventListView(PlatformWideAPIView, generics.ListAPIView):
    """Audit events of every tenant, newest first, with filters."""

    serializer_class = AuditEventSerializer
    platform_roles = selectors.AUDIT_READERS
    platform_denied = "The audit trail is open to governance leads and platform admins."
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditFilter

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return AuditEvent._base_manager.none()
        return selectors.audit_events_across_tenants()
