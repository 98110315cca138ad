"""Admin pages for platform admins: people editable, tenant data read-only (changes go through
the API and commands, which audit them)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from tenants.models import Membership, ServiceToken, Tenant, User


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AcrossTenantsAdmin(ReadOnlyAdmin):
    def get_queryset(self, request):
        # The admin is a platform-wide view, open to platform admins only.
        return self.model.objects.dangerously_across_tenants()


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "cost_center", "active", "created_at"]
    search_fields = ["slug", "name", "cost_center"]
    list_filter = ["active"]


@admin.register(Membership)
class MembershipAdmin(AcrossTenantsAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username"]


@admin.register(ServiceToken)
class ServiceTokenAdmin(AcrossTenantsAdmin):
    list_display = [
        "name",
        "prefix",
        "tenant",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["tenant"]
    search_fields = ["name", "prefix"]
    exclude = ["secret_hash"]


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "platform_role", "is_active"]
    list_filter = ["platform_role", "is_active"]
    readonly_fields = ["platform_role", "is_staff", "is_superuser", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        (
            "Access",
            {
                "fields": ["is_active", "platform_role", "is_staff", "is_superuser"],
                "description": "Platform roles change with `manage.py create_user --platform-role`, which audits them.",
            },
        ),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
