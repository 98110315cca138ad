from django.urls import path

from portal.catalog import webhooks
from portal.catalog.api import catalog

urlpatterns = [
    path("catalog/conflicts/", catalog.OwnershipConflictListView.as_view(), name="api-conflicts"),
    path("catalog/unassigned/", catalog.UnassignedModelListView.as_view(), name="api-unassigned"),
    path(
        "catalog/unassigned/<str:name>/assign/",
        catalog.UnassignedModelAssignView.as_view(),
        name="api-assign",
    ),
    path("webhooks/mlflow/", webhooks.mlflow_webhook, name="mlflow-webhook"),
]

tenant_urlpatterns = [
    path("models/", catalog.ModelListView.as_view(), name="api-models"),
    path("models/<str:name>/", catalog.ModelDetailView.as_view(), name="api-model"),
    path("models/<str:name>/versions/", catalog.VersionListView.as_view(), name="api-versions"),
    path(
        "models/<str:name>/versions/<int:version>/",
        catalog.VersionDetailView.as_view(),
        name="api-version",
    ),
    path("sync/", catalog.SyncView.as_view(), name="api-sync"),
    path("catalog-jobs/<int:job_id>/", catalog.CatalogJobView.as_view(), name="api-catalog-job"),
]
