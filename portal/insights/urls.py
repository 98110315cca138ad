from django.urls import path

from portal.insights import views

urlpatterns = [
    path("kpis/", views.platform_kpis_page, name="platform-kpis"),
    path("inventory/", views.inventory_page, name="inventory"),
    path("inventory/export.csv", views.inventory_export, name="inventory-export"),
]

tenant_urlpatterns = [
    path("maturity/", views.maturity_page, name="tenant-maturity"),
    path("roi/", views.roi_page, name="tenant-roi"),
    path("kpis/", views.tenant_kpis_page, name="tenant-kpis"),
]
