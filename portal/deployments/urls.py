from django.urls import path

from portal.deployments import api

urlpatterns = [
    path(
        "tenants/<slug:tenant>/deployments/",
        api.DeploymentListView.as_view(),
        name="api-deployments",
    ),
    path(
        "tenants/<slug:tenant>/deployments/<int:deployment_id>/",
        api.DeploymentDetailView.as_view(),
        name="api-deployment",
    ),
    path(
        "tenants/<slug:tenant>/deployments/<int:deployment_id>/resubmit/",
        api.DeploymentResubmitView.as_view(),
        name="api-deployment-resubmit",
    ),
    path(
        "tenants/<slug:tenant>/deployments/<int:deployment_id>/rollback/",
        api.DeploymentRollbackView.as_view(),
        name="api-deployment-rollback",
    ),
]
