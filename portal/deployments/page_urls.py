from django.urls import path

from portal.deployments import views

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
]
