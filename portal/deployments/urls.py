from django.urls import path

from portal.deployments import views, workflow_views

DEPLOYMENTS = "t/<slug:tenant>/deployments"

urlpatterns = [
    path(f"{DEPLOYMENTS}/", views.deployment_list, name="deployment-list"),
    path(f"{DEPLOYMENTS}/new/", views.deployment_request_page, name="deployment-request"),
    path(f"{DEPLOYMENTS}/<int:deployment_id>/", views.deployment_page, name="deployment-page"),
    path(
        f"{DEPLOYMENTS}/<int:deployment_id>/rollback/",
        views.deployment_rollback_page,
        name="deployment-rollback",
    ),
    path("serving/", views.serving_page, name="serving-servers"),
    path(
        "governance/approvals/<int:approval_id>/",
        workflow_views.approval_page,
        name="approval-page",
    ),
    path(
        "governance/policies/<slug:name>/",
        workflow_views.policy_detail,
        name="policy-detail",
    ),
    path(
        "t/<slug:tenant>/models/<str:name>/classification/",
        workflow_views.model_classification,
        name="model-classification",
    ),
]
