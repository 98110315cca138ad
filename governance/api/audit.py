"""API: the audit trail, for governance leads and platform admins."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics

from governance import selectors
from governance.filters import AuditFilter
from governance.models import AuditEvent
from governance.serializers import AuditEventSerializer
from portal.errors import NotAllowed
from tenants.access import platform_role_of
from tenants.models import PlatformRole

AUDIT_READERS = {PlatformRole.GOVERNANCE_LEAD, PlatformRole.PLATFORM_ADMIN}


class AuditEventListView(generics.ListAPIView):
    """Audit events of every tenant, newest first, with filters."""

    serializer_class = AuditEventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditFilter

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request
            return AuditEvent._base_manager.none()
        if platform_role_of(self.request.user) not in AUDIT_READERS:
            raise NotAllowed("The audit trail is open to governance leads and platform admins.")
        return selectors.audit_events_across_tenants()
