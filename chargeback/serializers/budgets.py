"""Shapes of a unit's budget, its status this month and the alerts sent."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargeback.models import BudgetAlert, default_thresholds
from chargeback.serializers.fields import MonthField, cents
from chargeback.services.budgets import BudgetStatus
from portal.core.api.fields import StrictDecimalField


class BudgetSetSerializer(serializers.Serializer):
    amount = StrictDecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="The monthly budget, in cents at most.",
    )
    currency = serializers.CharField(
        max_length=3, required=False, help_text="The rate card's currency (default)."
    )
    thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000),
        min_length=1,
        max_length=10,
        required=False,
        help_text="Percentages of the budget that send an alert (default 50, 80, 100).",
    )


class BudgetAlertSerializer(serializers.ModelSerializer):
    month = MonthField(read_only=True)
    spend = cents()
    forecast = cents(allow_null=True)

    class Meta:
        model = BudgetAlert
        fields = [
            "month",
            "threshold",
            "budget_amount",
            "spend",
            "forecast",
            "currency",
            "created_at",
        ]
        read_only_fields = fields


class BudgetStatusSerializer(serializers.Serializer):
    """The unit's budget with the month's spend so far and the month-end forecast.

    ``month_to_date`` is the open month's usage rated now with the prices the close will use;
    ``forecast`` = corrections + (month to date - corrections) x month length / time elapsed.
    """

    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    amount = serializers.DecimalField(
        source="budget.amount", max_digits=14, decimal_places=2, read_only=True, allow_null=True
    )
    currency = serializers.CharField(source="spend.currency", read_only=True)
    thresholds = serializers.SerializerMethodField()
    set_by = serializers.CharField(source="budget.set_by_label", read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(
        source="budget.updated_at", read_only=True, allow_null=True
    )
    month = MonthField(source="spend.month", read_only=True)
    measured_until = serializers.DateTimeField(source="spend.measured_until", read_only=True)
    month_to_date = cents(source="spend.month_to_date")
    forecast = cents(source="spend.forecast")
    corrections = cents(source="spend.corrections")
    overhead_included = serializers.BooleanField(source="spend.overhead_known", read_only=True)
    used_percent = serializers.DecimalField(
        max_digits=12, decimal_places=1, read_only=True, allow_null=True
    )
    forecast_percent = serializers.DecimalField(
        max_digits=12, decimal_places=1, read_only=True, allow_null=True
    )
    alerts = BudgetAlertSerializer(many=True, read_only=True)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_thresholds(self, status: BudgetStatus) -> list[int]:
        return status.budget.thresholds if status.budget else default_thresholds()
