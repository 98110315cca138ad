from django.urls import path

from portal.deployments.views import deployments, workflow

urlpatterns = [
    path("serving/", deployments.serving_page, name="serving-servers"),
    path(
        "governance/approvals/<int:approval_id>/",
        workflow.approval_page,
        name="approval-page",
    ),
    path(
        "governance/policies/<slug:name>/",
        workflow.policy_detail,
        name="policy-detail",
    ),
]

tenant_urlpatterns = [
    path("deployments/", deployments.deployment_list, name="deployment-list"),
    path("deployments/new/", deployments.deployment_request_page, name="deployment-request"),
    path("deployments/<int:deployment_id>/", deployments.deployment_page, name="deployment-page"),
    path(
        "deployments/<int:deployment_id>/rollback/",
        deployments.deployment_rollback_page,
        name="deployment-rollback",
    ),
    path(
        "models/<str:name>/classification/",
        workflow.model_classification,
        name="model-classification",
    ),
    path(
        "models/<str:name>/tier-proposals/<int:proposal_id>/decision/",
        workflow.tier_proposal_decision,
        name="tier-proposal-decision",
    ),
]
