from django.urls import URLPattern, path

from portal.monitoring.api import decision_logs, monitoring

urlpatterns: list[URLPattern] = []

tenant_urlpatterns = [
    path(
        "deployments/<int:deployment_id>/drift/",
        monitoring.DriftRunListView.as_view(),
        name="api-deployment-drift",
    ),
    path(
        "deployments/<int:deployment_id>/decision-log/",
        decision_logs.DecisionLogView.as_view(),
        name="api-deployment-decision-log",
    ),
    path("monitors/", monitoring.MonitorListView.as_view(), name="api-monitors"),
    path("monitors/<int:monitor_id>/", monitoring.MonitorDetailView.as_view(), name="api-monitor"),
    path(
        "models/<str:name>/versions/<int:version>/baseline/",
        monitoring.BaselineView.as_view(),
        name="api-baseline",
    ),
]
