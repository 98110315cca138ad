from django.urls import path

from portal.monitoring.api import monitoring

urlpatterns = [
    path(
        "tenants/<slug:tenant>/deployments/<int:deployment_id>/drift/",
        monitoring.DriftRunListView.as_view(),
        name="api-deployment-drift",
    ),
    path(
        "tenants/<slug:tenant>/monitors/", monitoring.MonitorListView.as_view(), name="api-monitors"
    ),
    path(
        "tenants/<slug:tenant>/monitors/<int:monitor_id>/",
        monitoring.MonitorDetailView.as_view(),
        name="api-monitor",
    ),
    path(
        "tenants/<slug:tenant>/models/<str:name>/versions/<int:version>/baseline/",
        monitoring.BaselineView.as_view(),
        name="api-baseline",
    ),
]
