from django.urls import URLPattern, path

from tenants import views

urlpatterns: list[URLPattern] = []

tenant_urlpatterns = [
    path("", views.tenant_overview, name="tenant-overview"),
    path("tokens/new/", views.token_create_page, name="tenant-token-create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke_page, name="tenant-token-revoke"),
]
