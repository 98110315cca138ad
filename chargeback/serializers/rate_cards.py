"""Shapes of rate cards and of publishing a new version."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from chargeback.models import OverheadAllocation, RateCard
from portal.core.api.fields import StrictDecimalField


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

    markup_percent = StrictDecimalField(
        max_digits=7,
        decimal_places=4,
        min_value=Decimal(0),
        max_value=Decimal(1000),
        required=False,
        help_text="Percent added to list prices.",
    )
    monitoring_fee_per_model_month = StrictDecimalField(
        max_digits=14, decimal_places=4, min_value=Decimal(0), required=False
    )
    storage_price_per_gb_month = StrictDecimalField(
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
    overhead_monthly = StrictDecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), required=False
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
