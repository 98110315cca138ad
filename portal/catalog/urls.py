from django.urls import path

from portal.catalog import views

urlpatterns = [
    path("catalog/unassigned/", views.unassigned_list, name="catalog-unassigned"),
    path("catalog/unassigned/<str:name>/assign/", views.unassigned_assign, name="catalog-assign"),
]

tenant_urlpatterns = [
    path("models/", views.catalog_list, name="catalog-list"),
    path("models/<str:name>/", views.model_detail, name="catalog-model"),
    path("models/<str:name>/versions/<int:version>/", views.version_detail, name="catalog-version"),
    path("sync/", views.sync_status, name="catalog-sync"),
    path("sync/now/", views.sync_now, name="catalog-sync-now"),
]
