from django.urls import path

from portal.insights import api

urlpatterns = [
    path("kpis/", api.PlatformKpiView.as_view(), name="api-kpis"),
    path("tenants/<slug:tenant>/kpis/", api.TenantKpiView.as_view(), name="api-tenant-kpis"),
    path("tenants/<slug:tenant>/maturity/", api.MaturityView.as_view(), name="api-maturity"),
    path("tenants/<slug:tenant>/roi/", api.RoiView.as_view(), name="api-roi"),
]
