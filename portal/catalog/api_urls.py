from django.urls import path

from portal.catalog import webhooks
from portal.catalog.api import catalog

urlpatterns = [
    path("tenants/<slug:tenant>/models/", catalog.ModelListView.as_view(), name="api-models"),
    path(
        "tenants/<slug:tenant>/models/<str:name>/",
        catalog.ModelDetailView.as_view(),
        name="api-model",
    ),
    path(
        "tenants/<slug:tenant>/models/<str:name>/versions/",
        catalog.VersionListView.as_view(),
        name="api-versions",
    ),
    path(
        "tenants/<slug:tenant>/models/<str:name>/versions/<int:version>/",
        catalog.VersionDetailView.as_view(),
        name="api-version",
    ),
    path("tenants/<slug:tenant>/sync/", catalog.SyncView.as_view(), name="api-sync"),
    path(
        "tenants/<slug:tenant>/catalog-jobs/<int:job_id>/",
        catalog.CatalogJobView.as_view(),
        name="api-catalog-job",
    ),
    path("catalog/conflicts/", catalog.OwnershipConflictListView.as_view(), name="api-conflicts"),
    path("catalog/unassigned/", catalog.UnassignedModelListView.as_view(), name="api-unassigned"),
    path(
        "catalog/unassigned/<str:name>/assign/",
        catalog.UnassignedModelAssignView.as_view(),
        name="api-assign",
    ),
    path("webhooks/mlflow/", webhooks.mlflow_webhook, name="mlflow-webhook"),
]
