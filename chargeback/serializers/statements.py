"""Shapes of billing periods, statements with their lines, credit notes and disputes."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from chargeback.models import (
    BillingPeriod,
    CreditNote,
    LineDispute,
    Statement,
    StatementLine,
)
from chargeback.models.statements import line_columns
from chargeback.serializers.fields import cents
from chargeback.services.close import MONTH_PATTERN
from portal.core.api.fields import StrictDecimalField


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
        fields = ["id", *line_columns(model="model_name"), "credit_note", "disputes"]
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
    amount = StrictDecimalField(
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
