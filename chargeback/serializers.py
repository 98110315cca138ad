"""Shapes of the chargeback API. Money is a decimal string; estimates are rounded to cents here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargeback.models import OverheadAllocation, PriceItem, PriceService, PriceSource, RateCard
from chargeback.services.estimates import Estimate
from portal.deployments.models import Environment, Target


def cents(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=20, decimal_places=2, rounding=ROUND_HALF_UP, read_only=True, **kwargs
    )


# --- Prices ---------------------------------------------------------------------------------------


class PriceFilterSerializer(serializers.Serializer):
    service = serializers.ChoiceField(choices=PriceService.choices, required=False)
    instance_type = serializers.CharField(max_length=64, required=False)
    source = serializers.CharField(max_length=64, required=False, help_text="A source's name.")  # type: ignore[assignment]  # a field named like Field.source
    region = serializers.CharField(max_length=64, required=False)


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


# --- Rate cards -----------------------------------------------------------------------------------


class RateCardSerializer(serializers.ModelSerializer):
    in_force = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by_label", read_only=True)

    class Meta:
        model = RateCard
        fields = [
            "version",
            "in_force",
            "currency",
            "markup_percent",
            "monitoring_fee_per_model_month",
            "storage_price_per_gb_month",
            "overhead_allocation",
            "overhead_weights",
            "overhead_monthly",
            "note",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_in_force(self, card: RateCard) -> bool:
        return card.version == self.context.get("in_force_version")


class RateCardPublishSerializer(serializers.Serializer):
    """A new rate card version; fields left out keep their value from the version in force."""

    markup_percent = serializers.DecimalField(
        max_digits=7,
        decimal_places=4,
        min_value=Decimal(0),
        max_value=Decimal(1000),
        required=False,
        help_text="Percent added to list prices.",
    )
    monitoring_fee_per_model_month = serializers.DecimalField(
        max_digits=14, decimal_places=4, min_value=Decimal(0), required=False
    )
    storage_price_per_gb_month = serializers.DecimalField(
        max_digits=18,
        decimal_places=10,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="Overrides the catalog's storage price; null uses the catalog's.",
    )
    overhead_allocation = serializers.ChoiceField(
        choices=OverheadAllocation.choices, required=False
    )
    overhead_weights = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=4, min_value=Decimal(0)),
        required=False,
        help_text="Tenant slug to weight, for the 'weights' allocation.",
    )
    overhead_monthly = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), required=False
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# --- Estimates ------------------------------------------------------------------------------------


class EstimatePlanSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    target = serializers.ChoiceField(choices=Target.choices, default=Target.LOCAL)
    instance_type = serializers.CharField(max_length=64)
    replicas = serializers.IntegerField(min_value=1, max_value=50, default=1)
    drift_monitor = serializers.BooleanField(default=True)
    deployment = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="A deployment of this tenant: the estimate adds its current cost and the difference.",
    )


class EstimateBreakdownSerializer(serializers.Serializer):
    list_hourly = cents()
    markup_hourly = cents()
    monitoring_hourly = cents()
    list_monthly = cents()
    markup_monthly = cents()
    monitoring_monthly = cents()


class ProvenanceSerializer(serializers.Serializer):
    price_item = serializers.IntegerField(source="price_item_id", read_only=True)
    source = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field named like Field.source
    source_kind = serializers.CharField(read_only=True)
    snapshot = serializers.IntegerField(source="snapshot_id", read_only=True)
    snapshot_fetched_at = serializers.DateTimeField(read_only=True)
    snapshot_published_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sku = serializers.CharField(read_only=True)
    region = serializers.CharField(read_only=True)
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=10, read_only=True)
    pricing_unit = serializers.CharField(read_only=True)
    rate_card_version = serializers.IntegerField(read_only=True)
    markup_percent = serializers.DecimalField(max_digits=7, decimal_places=4, read_only=True)
    monitoring_fee_per_model_month = serializers.DecimalField(
        max_digits=14, decimal_places=4, read_only=True
    )


class ConfigurationCostSerializer(serializers.Serializer):
    target = serializers.CharField(read_only=True)
    instance_type = serializers.CharField(read_only=True)
    replicas = serializers.IntegerField(read_only=True)
    drift_monitor = serializers.BooleanField(read_only=True)
    hourly = cents()
    monthly = cents()


class DifferenceSerializer(serializers.Serializer):
    hourly = cents(source="hourly_difference")
    monthly = cents(source="monthly_difference")


class EstimateSerializer(serializers.Serializer):
    """Hourly and monthly (730 h) cost of a configuration, rounded to cents, with provenance."""

    tenant = serializers.CharField(read_only=True)
    environment = serializers.CharField(read_only=True)
    target = serializers.CharField(read_only=True)
    instance_type = serializers.CharField(read_only=True)
    replicas = serializers.IntegerField(read_only=True)
    drift_monitor = serializers.BooleanField(read_only=True)
    currency = serializers.CharField(read_only=True)
    hourly = cents()
    monthly = cents()
    breakdown = EstimateBreakdownSerializer(source="*", read_only=True)
    provenance = ProvenanceSerializer(read_only=True)
    deployment = serializers.IntegerField(
        source="current_deployment", read_only=True, allow_null=True
    )
    current = ConfigurationCostSerializer(read_only=True, allow_null=True)
    difference = serializers.SerializerMethodField()
    notes = serializers.ListField(child=serializers.CharField(), read_only=True)

    @extend_schema_field(DifferenceSerializer(allow_null=True))
    def get_difference(self, estimate: Estimate) -> dict | None:
        return None if estimate.current is None else DifferenceSerializer(estimate).data
