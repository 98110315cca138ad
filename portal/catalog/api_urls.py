from django.urls import path

from portal.catalog import api, webhooks

urlpatterns = [
    path("tenants/<slug:tenant>/models/", api.ModelListView.as_view(), name="api-models"),
    path(
        "tenants/<slug:tenant>/models/<str:name>/", api.ModelDetailView.as_view(), name="api-model"
    ),
    path(
        "tenants/<slug:tenant>/models/<str:name>/versions/",
        api.VersionListView.as_view(),
        name="api-versions",
    ),
    path(
        "tenants/<slug:tenant>/models/<str:name>/versions/<int:version>/",
        api.VersionDetailView.as_view(),
        name="api-version",
    ),
    path("tenants/<slug:tenant>/sync/", api.SyncView.as_view(), name="api-sync"),
    path(
        "tenants/<slug:tenant>/catalog-jobs/<int:job_id>/",
        api.CatalogJobView.as_view(),
        name="api-catalog-job",
    ),
    path("catalog/conflicts/", api.OwnershipConflictListView.as_view(), name="api-conflicts"),
    path("catalog/unassigned/", api.UnassignedModelListView.as_view(), name="api-unassigned"),
    path(
        "catalog/unassigned/<str:name>/assign/",
        api.UnassignedModelAssignView.as_view(),
        name="api-assign",
    ),
    path("webhooks/mlflow/", webhooks.mlflow_webhook, name="mlflow-webhook"),
]
