from django.urls import path

from tenants import views

urlpatterns = [
    path("t/<slug:tenant>/tokens/new/", views.token_create_page, name="tenant-token-create"),
    path(
        "t/<slug:tenant>/tokens/<int:pk>/revoke/",
        views.token_revoke_page,
        name="tenant-token-revoke",
    ),
]
