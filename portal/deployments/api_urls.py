from django.urls import path

from portal.deployments import api, workflow_api

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
    path(
        "approvals/<int:approval_id>/decisions/",
        workflow_api.ApprovalDecisionView.as_view(),
        name="api-approval-decisions",
    ),
    path(
        "approvals/<int:approval_id>/withdraw/",
        workflow_api.ApprovalWithdrawView.as_view(),
        name="api-approval-withdraw",
    ),
    path("policies/dry-run/", workflow_api.PolicyDryRunView.as_view(), name="api-policy-dry-run"),
    path(
        "tenants/<slug:tenant>/models/<str:name>/classification/",
        workflow_api.ClassificationView.as_view(),
        name="api-classification",
    ),
]
