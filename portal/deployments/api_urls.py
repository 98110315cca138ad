from django.urls import path

from portal.deployments.api import deployments, workflow

urlpatterns = [
    path(
        "approvals/<int:approval_id>/decisions/",
        workflow.ApprovalDecisionView.as_view(),
        name="api-approval-decisions",
    ),
    path(
        "approvals/<int:approval_id>/withdraw/",
        workflow.ApprovalWithdrawView.as_view(),
        name="api-approval-withdraw",
    ),
    path("policies/dry-run/", workflow.PolicyDryRunView.as_view(), name="api-policy-dry-run"),
]

tenant_urlpatterns = [
    path("deployments/", deployments.DeploymentListView.as_view(), name="api-deployments"),
    path(
        "deployments/<int:deployment_id>/",
        deployments.DeploymentDetailView.as_view(),
        name="api-deployment",
    ),
    path(
        "deployments/<int:deployment_id>/resubmit/",
        deployments.DeploymentResubmitView.as_view(),
        name="api-deployment-resubmit",
    ),
    path(
        "deployments/<int:deployment_id>/rollback/",
        deployments.DeploymentRollbackView.as_view(),
        name="api-deployment-rollback",
    ),
    path(
        "models/<str:name>/classification/",
        workflow.ClassificationView.as_view(),
        name="api-classification",
    ),
    path(
        "tier-proposals/<int:proposal_id>/accept/",
        workflow.TierProposalAcceptView.as_view(),
        name="api-tier-proposal-accept",
    ),
    path(
        "tier-proposals/<int:proposal_id>/reject/",
        workflow.TierProposalRejectView.as_view(),
        name="api-tier-proposal-reject",
    ),
]
