"""The Django admin, open to platform admins only."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class PortalAdminSite(admin.AdminSite):
    site_header = "MLOps portal administration"
    site_title = "MLOps portal admin"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active and user.is_authenticated and getattr(user, "is_platform_admin", False)
        )


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"
