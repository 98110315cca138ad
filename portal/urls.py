"""The project's URLs. Every app's ``urls`` (pages) and ``api_urls`` (API, under ``/api/v1/``)
list the routes under a tenant in ``tenant_urlpatterns``, relative to the tenant, and the others
in ``urlpatterns``; the tenant's prefix is written once, where the project mounts them."""

from importlib import import_module

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

PAGES = (
    "tenants.urls",
    "portal.catalog.urls",
    "governance.urls",
    "portal.monitoring.urls",
    "portal.deployments.urls",
    "chargeback.urls",
    "portal.insights.urls",
)
TENANT_PAGES = [route for name in PAGES for route in import_module(name).tenant_urlpatterns]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("t/<slug:tenant>/", include(TENANT_PAGES)),
    *(path("", include(name)) for name in PAGES),
    path("", include("portal.deployments.gateway.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", views.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("portal.api.urls")),
]

handler403 = "portal.views.permission_denied"
handler404 = "portal.views.not_found"
handler500 = "portal.views.server_error"
