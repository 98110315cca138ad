from django.urls import path

from portal.insights.api import insights, inventory

urlpatterns = [
    path("kpis/", insights.PlatformKpiView.as_view(), name="api-kpis"),
    path("inventory/", inventory.InventoryView.as_view(), name="api-inventory"),
]

tenant_urlpatterns = [
    path("kpis/", insights.TenantKpiView.as_view(), name="api-tenant-kpis"),
    path("maturity/", insights.MaturityView.as_view(), name="api-maturity"),
    path("roi/", insights.RoiView.as_view(), name="api-roi"),
]
