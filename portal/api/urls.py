from django.urls import include, path

urlpatterns = [
    path("", include("tenants.urls")),
    path("", include("governance.urls")),
]
