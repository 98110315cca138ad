"""Shapes of the chargeback API. Money is a decimal string; estimates are rounded to cents here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargeback.models import (
    BillingPeriod,
    BudgetAlert,
    CreditNote,
    LineDispute,
    OverheadAllocation,
    PriceItem,
    PriceService,
    PriceSource,
    PricingUnit,
    RateCard,
    Statement,
    StatementLine,
    StatementState,
    default_thresholds,
)
from chargeback.services.budgets import BudgetStatus
from chargeback.services.close import MONTH_PATTERN
from chargeback.services.estimates import Estimate
from portal.api.fields import StrictBooleanField
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
        fields_not_always_present = [
            "url",
            "status",
            "last_attempt_at",
            "last_success_at",
            "last_error",
        ]


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


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN, "example": "2026-10"})
class MonthField(serializers.DateField):
    """A calendar month, shown as YYYY-MM."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%Y-%m", **kwargs)


# --- Statements -----------------------------------------------------------------------------------


class BillingPeriodSerializer(serializers.ModelSerializer):
    period = serializers.CharField(source="label", read_only=True)

    class Meta:
        model = BillingPeriod
        fields = [
            "period",
            "state",
            "processed",
            "total",
            "rate_card_version",
            "started_at",
            "closed_at",
            "last_error",
        ]
        read_only_fields = fields


class ClosePeriodSerializer(serializers.Serializer):
    period = serializers.RegexField(
        MONTH_PATTERN,
        help_text="The month to close, YYYY-MM (default: the previous month); it must have ended.",
        required=False,
    )


class StatementFilterSerializer(serializers.Serializer):
    period = serializers.RegexField(MONTH_PATTERN, required=False, help_text="YYYY-MM")
    state = serializers.ChoiceField(choices=StatementState.choices, required=False)
    tenant = serializers.SlugField(required=False, help_text="A tenant's slug.")


class DisputeSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="line_id", read_only=True)
    raised_by = serializers.CharField(source="raised_by_label", read_only=True)
    resolved_by = serializers.CharField(source="resolved_by_label", read_only=True)
    credit_note = serializers.IntegerField(source="credit_note_id", read_only=True, allow_null=True)

    class Meta:
        model = LineDispute
        fields = [
            "id",
            "line",
            "state",
            "comment",
            "raised_by",
            "created_at",
            "resolution",
            "resolved_by",
            "resolved_at",
            "credit_note",
        ]
        read_only_fields = fields


class StatementLineSerializer(serializers.ModelSerializer):
    deployment = serializers.IntegerField(source="deployment_id", read_only=True, allow_null=True)
    credit_note = serializers.IntegerField(source="credit_note_id", read_only=True, allow_null=True)
    amount = cents()
    disputes = DisputeSerializer(many=True, read_only=True)

    class Meta:
        model = StatementLine
        fields = [
            "id",
            "position",
            "kind",
            "service",
            "meter",
            "deployment",
            "resource_id",
            "resource_name",
            "model_name",
            "model_version",
            "instance_type",
            "correction",
            "description",
            "quantity",
            "unit",
            "list_cost",
            "contracted_cost",
            "billed_cost",
            "amount",
            "credit_note",
            "disputes",
        ]
        read_only_fields = fields


class CreditNoteSerializer(serializers.ModelSerializer):
    statement = serializers.IntegerField(source="statement_id", read_only=True)
    line = serializers.IntegerField(source="statement_line_id", read_only=True, allow_null=True)
    applied_to = serializers.IntegerField(source="applied_to_id", read_only=True, allow_null=True)
    issued_by = serializers.CharField(source="issued_by_label", read_only=True)
    amount = cents()

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "statement",
            "line",
            "amount",
            "reason",
            "applied_to",
            "issued_by",
            "created_at",
        ]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    tenant_name = serializers.CharField(source="tenant.name", read_only=True)
    period = serializers.CharField(source="period.label", read_only=True)
    total = cents()
    finalized_by = serializers.CharField(source="finalized_by_label", read_only=True)

    class Meta:
        model = Statement
        fields = [
            "id",
            "number",
            "tenant",
            "tenant_name",
            "period",
            "state",
            "currency",
            "total",
            "rate_card_version",
            "void_reason",
            "created_at",
            "state_changed_at",
            "finalized_at",
            "finalized_by",
        ]
        read_only_fields = fields


class StatementDetailSerializer(StatementSerializer):
    lines = StatementLineSerializer(many=True, read_only=True)
    credit_notes = CreditNoteSerializer(many=True, read_only=True)

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "lines", "credit_notes"]
        read_only_fields = fields


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CreditSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), help_text="Positive, in cents."
    )
    reason = serializers.CharField(max_length=500)
    line = serializers.IntegerField(
        min_value=1, required=False, help_text="A line of this statement."
    )
    dispute = serializers.IntegerField(
        min_value=1, required=False, help_text="An open dispute of this statement; it is settled."
    )


class DisputeCreateSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=4000)


class DisputeRejectSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=4000)


# --- Budgets --------------------------------------------------------------------------------------


class BudgetSetSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
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


# --- Manual prices --------------------------------------------------------------------------------


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
    unit_price = serializers.DecimalField(
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
