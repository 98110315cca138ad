from django.urls import path

from portal.insights import views

urlpatterns = [
    path("t/<slug:tenant>/maturity/", views.maturity_page, name="tenant-maturity"),
    path("t/<slug:tenant>/roi/", views.roi_page, name="tenant-roi"),
    path("t/<slug:tenant>/kpis/", views.tenant_kpis_page, name="tenant-kpis"),
    path("kpis/", views.platform_kpis_page, name="platform-kpis"),
]
