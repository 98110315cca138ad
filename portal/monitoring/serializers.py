"""API shapes of monitoring: drift runs, monitors and baselines (never the profile bytes)."""

from __future__ import annotations

from rest_framework import serializers

from portal.core.api.fields import STRICT_FIELD_MAPPING
from portal.monitoring.models import ActOn, Baseline, DriftRun, Monitor, Window
from portal.monitoring.services.monitors import MONITOR_FIELDS


class ColumnResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    method = serializers.CharField(allow_null=True)
    method_label = serializers.CharField(allow_null=True)
    statistic = serializers.FloatField(allow_null=True)
    statistic_error = serializers.FloatField()
    threshold = serializers.FloatField(allow_null=True)
    drifted = serializers.BooleanField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    missing_current = serializers.IntegerField()
    unseen_categories = serializers.IntegerField()
    unseen_examples = serializers.ListField(child=serializers.CharField())
    current_count = serializers.IntegerField()


class DriftRunSerializer(serializers.ModelSerializer):
    columns = ColumnResultSerializer(many=True, read_only=True)
    drifted_columns = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = DriftRun
        fields = [
            "id",
            "deployment",
            "monitor",
            "baseline",
            "trigger",
            "status",
            "progress",
            "progress_note",
            "drift_status",
            "reason",
            "window",
            "window_rows",
            "window_start",
            "window_end",
            "current_rows",
            "reference_rows",
            "dataset_drift",
            "share_drifted",
            "share_threshold",
            "drifted_columns",
            "columns",
            "actions",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class MonitorSerializer(serializers.ModelSerializer):
    serializer_field_mapping = STRICT_FIELD_MAPPING
    endpoint = serializers.SlugField(max_length=63, help_text="The deployment name to watch.")
    interval_minutes = serializers.IntegerField(min_value=5, max_value=7 * 24 * 60, default=60)
    window = serializers.ChoiceField(choices=Window.choices, default=Window.HOUR)
    window_rows = serializers.IntegerField(min_value=10, max_value=50_000_000, default=10000)
    drift_share = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.5)
    act_on = serializers.ChoiceField(choices=ActOn.choices, default=ActOn.DRIFT)
    alert_emails = serializers.ListField(
        child=serializers.EmailField(), max_length=20, default=list
    )
    column_overrides = serializers.DictField(
        child=serializers.DictField(),
        default=dict,
        help_text='Per column {"method": "ks|chisquare|z|wasserstein|jensenshannon|psi", '
        '"threshold": number}.',
    )

    class Meta:
        model = Monitor
        fields = ["id", "endpoint", *MONITOR_FIELDS, "next_run_at", "last_run_at", "created_at"]
        read_only_fields = ["id", "next_run_at", "last_run_at", "created_at"]


class BaselineSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)

    class Meta:
        model = Baseline
        fields = [
            "id",
            "model",
            "version",
            "source",
            "source_detail",
            "status",
            "error",
            "rows",
            "columns",
            "prediction_columns",
            "profile_bytes",
            "created_by_label",
            "updated_at",
        ]
        read_only_fields = fields


class BaselineRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False, help_text="A CSV (with a header row) or Parquet file of training data."
    )
    # DRF takes declared fields off the class, so this does not replace Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["upload", "dataset", "capture"],
        default="upload",
        help_text="upload: the file; dataset: the dataset the run logged; capture: the first "
        "captured rows of `deployment`.",
    )
    deployment = serializers.IntegerField(required=False, help_text="For source=capture.")
    prediction_column = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        help_text="The column that holds the model's output (or the label) in the file.",
    )
