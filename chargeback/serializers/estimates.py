"""Shapes of a cost estimate: the planned configuration, its cost rounded to cents, the
prices' provenance and the difference with a deployment's current cost."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargeback.serializers.fields import cents
from chargeback.services.estimates import Estimate
from portal.core.api.fields import StrictBooleanField
from portal.deployments.models import Environment, Target


class EstimatePlanSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    target = serializers.ChoiceField(choices=Target.choices, default=Target.LOCAL)
    instance_type = serializers.CharField(max_length=64)
    replicas = serializers.IntegerField(min_value=1, max_value=50, default=1)
    drift_monitor = StrictBooleanField(default=True)
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
