from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.catalog.models import (
    CatalogJob,
    ModelOwnership,
    ModelVersion,
    RegisteredModel,
    RiskTier,
    SyncRun,
    UnassignedModel,
)


@extend_schema_field(OpenApiTypes.DATETIME)
class MillisecondsField(serializers.Field):
    """MLflow's millisecond timestamps, shown as ISO 8601 times."""

    def to_representation(self, value: int | None) -> str | None:
        return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()


class ModelSummarySerializer(serializers.ModelSerializer):
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)
    version_count = serializers.IntegerField(read_only=True)
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, allow_blank=True, read_only=True)
    tags = serializers.JSONField(source="mlflow_tags", read_only=True)
    mlflow_created_at = MillisecondsField(
        source="mlflow_created_ms", read_only=True, allow_null=True
    )
    mlflow_updated_at = MillisecondsField(
        source="mlflow_updated_ms", read_only=True, allow_null=True
    )

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "description",
            "risk_tier",
            "owner",
            "use_case",
            "tags",
            "aliases",
            "latest_version",
            "version_count",
            "gone_from_mlflow",
            "mlflow_created_at",
            "mlflow_updated_at",
            "last_synced_at",
        ]
        read_only_fields = fields


class VersionSummarySerializer(serializers.ModelSerializer):
    tags = serializers.JSONField(source="mlflow_tags", read_only=True)
    tampered = serializers.BooleanField(read_only=True)
    mlflow_created_at = MillisecondsField(
        source="mlflow_created_ms", read_only=True, allow_null=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "status",
            "aliases",
            "run_id",
            "tags",
            "artifact_digest",
            "tampered",
            "gone_from_mlflow",
            "mlflow_created_at",
        ]
        read_only_fields = fields


class ModelDetailSerializer(ModelSummarySerializer):
    versions = VersionSummarySerializer(many=True, read_only=True)

    class Meta(ModelSummarySerializer.Meta):
        fields = [
            *ModelSummarySerializer.Meta.fields,
            "intended_use",
            "limitations",
            "gone_at",
            "versions",
        ]
        read_only_fields = fields


class VersionDetailSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    tags = serializers.JSONField(source="mlflow_tags", read_only=True)
    lineage = serializers.JSONField(source="datasets", read_only=True)
    tampered = serializers.BooleanField(read_only=True)
    mlflow_created_at = MillisecondsField(
        source="mlflow_created_ms", read_only=True, allow_null=True
    )
    mlflow_updated_at = MillisecondsField(
        source="mlflow_updated_ms", read_only=True, allow_null=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "status",
            "description",
            "aliases",
            "run_id",
            "source",
            "tags",
            "metrics",
            "params",
            "lineage",
            "signature",
            "artifact_size_bytes",
            "artifact_digest",
            "artifact_manifest",
            "artifacts_checked_at",
            "tampered",
            "tampered_at",
            "tamper_report",
            "details_synced_at",
            "details_error",
            "gone_from_mlflow",
            "mlflow_created_at",
            "mlflow_updated_at",
        ]
        read_only_fields = fields


class ModelUpdateSerializer(serializers.Serializer):
    owner = serializers.CharField(max_length=150, required=False, allow_blank=True)
    use_case = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    intended_use = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    limitations = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RegisterFromRunSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200,
        help_text=(
            "The registered model's name: one of the unit's models, or a new name that begins "
            "with the unit's MLflow name prefix (its slug and '-' when it has none)."
        ),
    )
    run_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text=(
            "An MLflow run in one of the unit's experiments (tagged portal.tenant with the "
            "unit's slug, or named with its prefix)."
        ),
    )
    artifact_path = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Path of the model inside the run (default 'model').",
    )
    logged_model_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="An MLflow 3 logged model id (m-...), instead of a run.",
    )

    def validate(self, data: dict) -> dict:
        if not data.get("run_id") and not data.get("logged_model_id"):
            raise serializers.ValidationError(
                "Give a run_id (with an optional artifact_path) or a logged_model_id."
            )
        return data


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "trigger",
            "deep",
            "status",
            "started_at",
            "finished_at",
            "models_seen",
            "models_changed",
            "models_gone",
            "versions_created",
            "versions_updated",
            "writes",
            "error",
        ]
        read_only_fields = fields


class UnassignedModelSerializer(serializers.ModelSerializer):
    tags = serializers.JSONField(source="mlflow_tags", read_only=True)

    class Meta:
        model = UnassignedModel
        fields = ["name", "tags", "latest_version", "last_seen_at"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    tenant = serializers.SlugField(help_text="The slug of the tenant that owns the model.")


class CatalogJobSerializer(serializers.ModelSerializer):
    """A queued registration or assignment: poll ``url`` until ``status`` is final."""

    model = serializers.CharField(source="model_name", read_only=True)
    url = serializers.SerializerMethodField()
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = CatalogJob
        fields = [
            "id",
            "url",
            "kind",
            "model",
            "status",
            "progress",
            "version",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job: CatalogJob) -> str:
        return reverse("api-catalog-job", kwargs={"tenant": job.tenant.slug, "job_id": job.pk})

    def get_requested_by(self, job: CatalogJob) -> str:
        return str(job.requested_by.get("label", ""))


class JobQueuedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    job = CatalogJobSerializer()


class OwnershipConflictSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="tenant.slug", read_only=True)
    claimed_by_tag = serializers.CharField(source="conflicting_tag", read_only=True)

    class Meta:
        model = ModelOwnership
        fields = ["name", "owner", "claimed_via", "claimed_at", "claimed_by_tag", "conflict_since"]
        read_only_fields = fields
