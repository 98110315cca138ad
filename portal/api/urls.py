"""The API's URLs, under ``/api/v1/``: each app's ``api_urls``, its routes under a tenant mounted
once under ``tenants/<slug:tenant>/`` (see ``portal.urls``)."""

from importlib import import_module

from django.urls import include, path

APIS = (
    "tenants.api_urls",
    "governance.api_urls",
    "portal.catalog.api_urls",
    "portal.deployments.api_urls",
    "portal.monitoring.api_urls",
    "chargeback.api_urls",
    "portal.insights.api_urls",
)
TENANT_APIS = [route for name in APIS for route in import_module(name).tenant_urlpatterns]

urlpatterns = [
    *(path("", include(name)) for name in APIS),
    path("tenants/<slug:tenant>/", include(TENANT_APIS)),
]
