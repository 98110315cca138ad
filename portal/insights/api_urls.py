from django.urls import path

from portal.insights.api import insights

urlpatterns = [
    path("kpis/", insights.PlatformKpiView.as_view(), name="api-kpis"),
    path("tenants/<slug:tenant>/kpis/", insights.TenantKpiView.as_view(), name="api-tenant-kpis"),
    path("tenants/<slug:tenant>/maturity/", insights.MaturityView.as_view(), name="api-maturity"),
    path("tenants/<slug:tenant>/roi/", insights.RoiView.as_view(), name="api-roi"),
]
