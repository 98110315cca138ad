"""Shapes of the price catalog, its sources and their health, and manual prices."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from chargeback.models import PriceItem, PriceService, PriceSource, PricingUnit
from portal.core.api.fields import StrictDecimalField


class PriceItemSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="snapshot.source.name", read_only=True)  # type: ignore[assignment]  # a field named like Field.source
    source_kind = serializers.CharField(source="snapshot.source.kind", read_only=True)
    snapshot_fetched_at = serializers.DateTimeField(source="snapshot.fetched_at", read_only=True)
    snapshot_published_at = serializers.DateTimeField(
        source="snapshot.published_at", read_only=True, allow_null=True
    )

    class Meta:
        model = PriceItem
        fields = [
            "id",
            "service",
            "instance_type",
            "sku",
            "region",
            "pricing_unit",
            "unit_price",
            "currency",
            "description",
            "effective_from",
            "effective_to",
            "source",
            "source_kind",
            "snapshot",
            "snapshot_fetched_at",
            "snapshot_published_at",
        ]
        read_only_fields = fields


class SnapshotSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    fetched_at = serializers.DateTimeField(read_only=True)
    published_at = serializers.DateTimeField(read_only=True, allow_null=True)
    item_count = serializers.IntegerField(read_only=True)
    content_hash = serializers.CharField(read_only=True)


class PriceSourceSerializer(serializers.ModelSerializer):
    """What everyone signed in sees of a source."""

    snapshot = SnapshotSummarySerializer(source="current_snapshot", read_only=True, allow_null=True)

    class Meta:
        model = PriceSource
        fields = ["name", "kind", "region", "enabled", "snapshot"]
        read_only_fields = fields


class PriceSourceHealthSerializer(PriceSourceSerializer):
    """A source with its health; the health fields are shown to platform admins only."""

    class Meta(PriceSourceSerializer.Meta):
        fields = [
            *PriceSourceSerializer.Meta.fields,
            "url",
            "status",
            "last_attempt_at",
            "last_success_at",
            "last_error",
        ]
        read_only_fields = fields
        fields_not_always_present = [
            "url",
            "status",
            "last_attempt_at",
            "last_success_at",
            "last_error",
        ]


class ManualPriceItemSerializer(serializers.Serializer):
    service = serializers.ChoiceField(choices=PriceService.choices)
    sku = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        help_text="Names the item; with service and region it is the key a later change replaces.",
    )
    region = serializers.CharField(max_length=64, required=False, allow_blank=True)
    instance_type = serializers.CharField(max_length=64, required=False, allow_blank=True)
    pricing_unit = serializers.ChoiceField(choices=PricingUnit.choices)
    unit_price = StrictDecimalField(
        max_digits=18, decimal_places=10, min_value=Decimal(0), max_value=Decimal("99999999")
    )
    currency = serializers.CharField(max_length=3, required=False, default="USD")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    effective_from = serializers.DateTimeField(required=False, allow_null=True)
    effective_to = serializers.DateTimeField(required=False, allow_null=True)


class ManualPricesSerializer(serializers.Serializer):
    items = ManualPriceItemSerializer(many=True, required=False, default=list)
    remove = serializers.ListField(
        child=serializers.CharField(max_length=128),
        required=False,
        default=list,
        help_text="SKUs to take out of the source.",
    )


class ManualPricesResultSerializer(serializers.Serializer):
    source = PriceSourceHealthSerializer(read_only=True)  # type: ignore[assignment]  # a field named like Field.source
    outcome = serializers.CharField(source="result.outcome", read_only=True)
    snapshot = serializers.IntegerField(source="result.snapshot_id", read_only=True)
    item_count = serializers.IntegerField(source="result.item_count", read_only=True)
    added = serializers.ListField(child=serializers.CharField(), read_only=True)
    changed = serializers.ListField(child=serializers.CharField(), read_only=True)
    removed = serializers.ListField(child=serializers.CharField(), read_only=True)
