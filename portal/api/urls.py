from django.urls import include, path

urlpatterns = [
    path("", include("tenants.urls")),
    path("", include("governance.urls")),
    path("", include("portal.catalog.urls")),
    path("", include("portal.deployments.urls")),
    path("", include("portal.monitoring.urls")),
    path("", include("chargeback.urls")),
    path("", include("portal.insights.urls")),
]
