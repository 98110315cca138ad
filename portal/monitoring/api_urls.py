from django.urls import path

from portal.monitoring import api

urlpatterns = [
    path(
        "tenants/<slug:tenant>/deployments/<int:deployment_id>/drift/",
        api.DriftRunListView.as_view(),
        name="api-deployment-drift",
    ),
    path("tenants/<slug:tenant>/monitors/", api.MonitorListView.as_view(), name="api-monitors"),
    path(
        "tenants/<slug:tenant>/monitors/<int:monitor_id>/",
        api.MonitorDetailView.as_view(),
        name="api-monitor",
    ),
    path(
        "tenants/<slug:tenant>/models/<str:name>/versions/<int:version>/baseline/",
        api.BaselineView.as_view(),
        name="api-baseline",
    ),
]
