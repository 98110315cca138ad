from django.contrib import admin

from governance.models import AuditEvent, AuditVerification
from tenants.admin import AcrossTenantsAdmin, ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(AcrossTenantsAdmin):
    list_display = [
        "created_at",
        "chain",
        "sequence",
        "action",
        "object_type",
        "object_id",
        "actor_label",
    ]
    list_filter = ["action", "object_type", "tenant"]
    search_fields = ["object_id", "actor_label", "request_id"]


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "ok", "chains_checked", "events_checked"]
