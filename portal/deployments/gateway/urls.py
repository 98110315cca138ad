from django.urls import path

from portal.deployments.gateway import views

urlpatterns = [
    path(
        "serve/<slug:tenant>/<slug:deployment>/invocations",
        views.invocations,
        name="gateway-invocations",
    ),
    path("serve/<slug:tenant>/<slug:deployment>/ping", views.ping, name="gateway-ping"),
]
