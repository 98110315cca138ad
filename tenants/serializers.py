from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from portal.core.api.fields import StrictBooleanField
from tenants.models import (
    Membership,
    ServiceToken,
    Tenant,
    TenantRole,
    TokenScope,
    WebhookDelivery,
    WebhookEndpoint,
    slug_validator,
)


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "cost_center", "active", "created_at", "updated_at"]
        read_only_fields = fields


class TenantCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=50, validators=[slug_validator])
    name = serializers.CharField(max_length=120)
    cost_center = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class TenantUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    cost_center = serializers.CharField(max_length=40, required=False, allow_blank=True)
    active = StrictBooleanField(required=False)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "name", "role", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, help_text="An existing user's username.")
    role = serializers.ChoiceField(choices=TenantRole.choices)


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=TenantRole.choices)


class ServiceTokenSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ServiceToken
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "status",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


class ServiceTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.MultipleChoiceField(choices=TokenScope.choices, allow_empty=False)
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=366, default=90, help_text="Days until the token expires (1 to 366)."
    )

    def validated_expiry(self):
        return timezone.now() + timedelta(days=self.validated_data["expires_in_days"])


class ServiceTokenCreatedSerializer(ServiceTokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The secret; shown only in this response."
    )

    class Meta(ServiceTokenSerializer.Meta):
        fields = [*ServiceTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class WebhookEndpointSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "active", "created_at", "created_by"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=500, help_text="Where events are POSTed: an http(s) URL on a public address."
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=100),
        allow_empty=False,
        max_length=50,
        help_text='Event names such as "deployment.approved", or ["*"] for every event.',
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.CharField(max_length=100),
        allow_empty=False,
        max_length=50,
        required=False,
    )
    active = StrictBooleanField(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The key of the X-Portal-Signature HMAC; shown only in this response.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    # While an attempt is in flight: when its claim ends (the receiver is cut well before).
    in_flight_until = serializers.DateTimeField(
        source="lease_expires_at", read_only=True, allow_null=True
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "delivery_id",
            "event",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "created_at",
            "next_attempt_at",
            "delivered_at",
            "in_flight_until",
            "payload",
        ]
        read_only_fields = fields
