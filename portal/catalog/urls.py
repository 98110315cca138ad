from django.urls import path

from portal.catalog import views

urlpatterns = [
    path("t/<slug:tenant>/models/", views.catalog_list, name="catalog-list"),
    path("t/<slug:tenant>/models/<str:name>/", views.model_detail, name="catalog-model"),
    path(
        "t/<slug:tenant>/models/<str:name>/versions/<int:version>/",
        views.version_detail,
        name="catalog-version",
    ),
    path("t/<slug:tenant>/sync/", views.sync_status, name="catalog-sync"),
    path("t/<slug:tenant>/sync/now/", views.sync_now, name="catalog-sync-now"),
    path("catalog/unassigned/", views.unassigned_list, name="catalog-unassigned"),
    path("catalog/unassigned/<str:name>/assign/", views.unassigned_assign, name="catalog-assign"),
]
