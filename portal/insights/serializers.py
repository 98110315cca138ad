from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from portal.core.api.fields import StrictBooleanField, StrictDecimalField
from portal.deployments.models import Environment
from portal.insights.kpis import MAX_MONTHS
from portal.insights.models import RoiInputs
from portal.insights.questions import level_label
from portal.insights.roi import EDITABLE


class ChecklistItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    group = serializers.CharField(source="question.group")
    text = serializers.CharField(source="question.text")
    answered_by = serializers.ChoiceField(
        choices=["portal", "owner"],
        help_text="'portal': answered from the unit's own data, not editable.",
    )
    answer = serializers.BooleanField(
        allow_null=True, help_text="null: the owner has not answered it yet."
    )
    evidence = serializers.CharField()
    link = serializers.CharField(help_text="Where a person can check the evidence.")


class AssessmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    yes_count = serializers.IntegerField()
    level = serializers.IntegerField(help_text="0, 1, 2, or 3 for 'Level 3-4'.")
    level_label = serializers.SerializerMethodField()
    answers = serializers.DictField(child=serializers.BooleanField())
    answered_by = serializers.DictField(child=serializers.CharField())
    evidence = serializers.DictField(child=serializers.CharField())
    assessed_by = serializers.CharField(source="assessed_by_label")

    def get_level_label(self, assessment: Any) -> str:
        return level_label(assessment.level)


class HistoryPointSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    yes_count = serializers.IntegerField()
    level = serializers.IntegerField()


class CurrentLevelSerializer(serializers.Serializer):
    yes_count = serializers.IntegerField(
        help_text="Yes answers now; unanswered questions count no."
    )
    level = serializers.IntegerField()
    level_label = serializers.CharField()
    complete = serializers.BooleanField(help_text="Whether every question has an answer.")


class MaturitySerializer(serializers.Serializer):
    tenant = serializers.CharField()
    questions = ChecklistItemSerializer(many=True)
    current = CurrentLevelSerializer()
    latest_assessment = AssessmentSerializer(allow_null=True)
    history = HistoryPointSerializer(many=True)


class MaturityAnswersSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=StrictBooleanField(),
        help_text="Yes (true) or no (false) for every question the portal leaves to the owner "
        "(answered_by 'owner' in GET), keyed by question id such as 'q05'.",
    )


MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal(0)}
AMOUNT = {"max_digits": 7, "decimal_places": 2, "min_value": Decimal(0)}


class RoiInputsSerializer(serializers.ModelSerializer):
    team_size = serializers.IntegerField(min_value=0, max_value=100000, required=False)
    avg_salary = StrictDecimalField(  # its column is narrower than MONEY's
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False
    )
    avg_incident_cost = StrictDecimalField(**MONEY, required=False)  # type: ignore[arg-type]
    investment = StrictDecimalField(**MONEY, required=False)  # type: ignore[arg-type]
    weeks_to_production_before = StrictDecimalField(**AMOUNT, required=False)  # type: ignore[arg-type]
    weeks_to_production_with_platform = StrictDecimalField(**AMOUNT, required=False)  # type: ignore[arg-type]
    models_per_year = StrictDecimalField(**AMOUNT, required=False)  # type: ignore[arg-type]
    incidents_per_year = StrictDecimalField(**AMOUNT, required=False)  # type: ignore[arg-type]
    incident_reduction = StrictDecimalField(
        max_digits=4,
        decimal_places=3,
        min_value=Decimal(0),
        max_value=Decimal(1),
        required=False,
        help_text="The share of incidents the platform avoids (the seeds use 0.75).",
    )

    class Meta:
        model = RoiInputs
        fields = list(EDITABLE)


class RoiFiguresSerializer(serializers.Serializer):
    team_size = serializers.DecimalField(max_digits=12, decimal_places=0)
    avg_salary = serializers.DecimalField(max_digits=14, decimal_places=2)
    models_per_year = serializers.DecimalField(max_digits=9, decimal_places=2)
    weeks_to_production_before = serializers.DecimalField(max_digits=9, decimal_places=2)
    weeks_to_production_with_platform = serializers.DecimalField(max_digits=9, decimal_places=2)
    incidents_per_year = serializers.DecimalField(max_digits=9, decimal_places=2)
    avg_incident_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    incident_reduction = serializers.DecimalField(max_digits=4, decimal_places=3)
    investment = serializers.DecimalField(max_digits=14, decimal_places=2)


class RoiSerializer(serializers.Serializer):
    tenant = serializers.CharField()
    currency = serializers.CharField()
    inputs = RoiFiguresSerializer(source="estimate.figures")
    measured = serializers.DictField(
        child=serializers.BooleanField(),
        source="estimate.measured",
        help_text="For each platform-side input: true when it was measured, false when the "
        "entered value stands in.",
    )
    versions_measured = serializers.IntegerField(source="measurements.versions_measured")
    time_saved_per_model_weeks = serializers.DecimalField(
        max_digits=9, decimal_places=2, source="estimate.time_saved_per_model"
    )
    cost_per_week_team = serializers.DecimalField(
        max_digits=16, decimal_places=2, source="estimate.cost_per_week_team"
    )
    deployment_savings = serializers.DecimalField(
        max_digits=16, decimal_places=2, source="estimate.deployment_savings"
    )
    incident_savings = serializers.DecimalField(
        max_digits=16, decimal_places=2, source="estimate.incident_savings"
    )
    total_benefits = serializers.DecimalField(
        max_digits=16, decimal_places=2, source="estimate.total_benefits"
    )
    roi_percent = serializers.DecimalField(
        max_digits=12, decimal_places=1, source="estimate.roi_percent", allow_null=True
    )
    formula = serializers.ListField(child=serializers.CharField())


class KpiMonthSerializer(serializers.Serializer):
    month = serializers.CharField(source="label")
    deployments = serializers.IntegerField(help_text="Revisions that went live.")
    lead_time_hours = serializers.DecimalField(
        max_digits=12, decimal_places=1, allow_null=True, help_text="Average request to live."
    )
    rollouts = serializers.IntegerField()
    failures = serializers.IntegerField(help_text="Rollbacks and failed rollouts.")
    change_failure_rate = serializers.DecimalField(
        max_digits=6, decimal_places=1, allow_null=True, help_text="Percent of rollouts."
    )
    incidents_resolved = serializers.IntegerField()
    time_to_resolve_hours = serializers.DecimalField(
        max_digits=12, decimal_places=1, allow_null=True
    )
    models = serializers.IntegerField(help_text="Registered models at the end of the month.")


class TenantKpisSerializer(serializers.Serializer):
    tenant = serializers.CharField(source="tenant.slug")
    name = serializers.CharField(source="tenant.name")
    months = KpiMonthSerializer(many=True)


class KpiReportSerializer(serializers.Serializer):
    environment = serializers.CharField()
    overall = KpiMonthSerializer(many=True)
    tenants = TenantKpisSerializer(many=True)


class KpiFilterSerializer(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=MAX_MONTHS, default=12)
    environment = serializers.ChoiceField(
        choices=[*Environment.values, "all"], default=Environment.PRODUCTION
    )


class InventoryCertificationSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="current, due or overdue.")
    certified_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(help_text="When the model must be re-certified.")


class InventoryRowSerializer(serializers.Serializer):
    """One registered model in the inventory across units."""

    tenant = serializers.CharField(source="model.tenant.slug")
    tenant_name = serializers.CharField(source="model.tenant.name")
    model = serializers.CharField(source="model.name")
    risk_tier = serializers.CharField(
        source="model.risk_tier", help_text="'' while the model is not classified."
    )
    tier_set_by = serializers.CharField(
        help_text="The person whose classification is in force; '' while it is not classified."
    )
    tier_set_by_authority = serializers.CharField(
        help_text="Whose classification is in force: 'unit' or 'governance' (a governance lead, "
        "whose tier the unit cannot lower); '' while it is not classified."
    )
    open_tier_proposals = serializers.IntegerField()
    deployments = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Revisions in each deployment state, every state named.",
    )
    live_endpoints = serializers.DictField(
        source="live",
        child=serializers.IntegerField(),
        help_text="Live revisions in each environment, every environment named.",
    )
    open_approvals = serializers.IntegerField(help_text="Approval requests still open.")
    approval_expiry = serializers.DateTimeField(
        allow_null=True, help_text="The soonest expiry of the open approval requests."
    )
    certification = InventoryCertificationSerializer(
        allow_null=True, help_text="null: the model was never certified."
    )
    card_version = serializers.IntegerField(
        allow_null=True, help_text="The newest version, whose card state is given."
    )
    card_state = serializers.CharField(
        allow_null=True, help_text="draft, in_review or approved; null: no card."
    )
    monitor_state = serializers.ChoiceField(
        choices=["on", "off", "none"],
        help_text="Drift monitoring of the model's live endpoints: 'off' when every monitor "
        "is disabled.",
    )
    verdict = serializers.CharField(
        allow_null=True,
        help_text="The newest finished drift run's status; null: no run finished.",
    )
    verdict_at = serializers.DateTimeField(allow_null=True)
    open_incidents = serializers.IntegerField()
