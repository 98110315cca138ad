from django.urls import path

from portal.deployments.views import deployments, workflow

DEPLOYMENTS = "t/<slug:tenant>/deployments"

urlpatterns = [
    path(f"{DEPLOYMENTS}/", deployments.deployment_list, name="deployment-list"),
    path(f"{DEPLOYMENTS}/new/", deployments.deployment_request_page, name="deployment-request"),
    path(
        f"{DEPLOYMENTS}/<int:deployment_id>/", deployments.deployment_page, name="deployment-page"
    ),
    path(
        f"{DEPLOYMENTS}/<int:deployment_id>/rollback/",
        deployments.deployment_rollback_page,
        name="deployment-rollback",
    ),
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
    path(
        "t/<slug:tenant>/models/<str:name>/classification/",
        workflow.model_classification,
        name="model-classification",
    ),
]
