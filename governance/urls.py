from django.urls import path

from governance import api

urlpatterns = [
    path("audit-events/", api.AuditEventListView.as_view(), name="api-audit-events"),
]
