from __future__ import annotations

from rest_framework import serializers

from governance.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "chain",
            "sequence",
            "tenant",
            "actor",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "request_id",
            "created_at",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields

    def get_actor(self, event: AuditEvent) -> dict:
        return {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label}


class AuditEventFilterSerializer(serializers.Serializer):
    tenant = serializers.CharField(required=False, help_text="A tenant slug, or 'platform'.")
    action = serializers.CharField(
        required=False, help_text="An action, or a prefix ending in '.' such as 'token.'."
    )
    object_type = serializers.CharField(required=False)
    object_id = serializers.CharField(required=False)
    actor = serializers.CharField(required=False, help_text="A username or a token prefix.")
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
