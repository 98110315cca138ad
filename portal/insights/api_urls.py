from django.urls import path

from portal.insights.api import insights

urlpatterns = [
    path("kpis/", insights.PlatformKpiView.as_view(), name="api-kpis"),
]

tenant_urlpatterns = [
    path("kpis/", insights.TenantKpiView.as_view(), name="api-tenant-kpis"),
    path("maturity/", insights.MaturityView.as_view(), name="api-maturity"),
    path("roi/", insights.RoiView.as_view(), name="api-roi"),
]
