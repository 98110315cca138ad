from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("tenants.urls")),
    path("", include("portal.catalog.urls")),
    path("", include("governance.urls")),
    path("", include("portal.monitoring.urls")),
    path("", include("portal.deployments.urls")),
    path("", include("chargeback.urls")),
    path("", include("portal.insights.urls")),
    path("", include("portal.deployments.gateway.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", views.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("portal.api.urls")),
]

handler403 = "portal.views.permission_denied"
handler404 = "portal.views.not_found"
handler500 = "portal.views.server_error"
