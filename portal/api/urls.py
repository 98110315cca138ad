from django.urls import include, path

urlpatterns = [
    path("", include("tenants.api_urls")),
    path("", include("governance.api_urls")),
    path("", include("portal.catalog.api_urls")),
    path("", include("portal.deployments.api_urls")),
    path("", include("portal.monitoring.api_urls")),
    path("", include("chargeback.api_urls")),
    path("", include("portal.insights.api_urls")),
]
