from django.urls import path

from portal.monitoring import views

urlpatterns = [
    path(
        "t/<slug:tenant>/deployments/<int:deployment_id>/drift/",
        views.deployment_drift,
        name="deployment-drift",
    ),
]
