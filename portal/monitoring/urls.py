from django.urls import URLPattern, path

from portal.monitoring import views

urlpatterns: list[URLPattern] = []

tenant_urlpatterns = [
    path(
        "deployments/<int:deployment_id>/drift/",
        views.deployment_drift,
        name="deployment-drift",
    ),
    path(
        "deployments/<int:deployment_id>/decision-log/",
        views.deployment_decision_log,
        name="deployment-decision-log",
    ),
]
