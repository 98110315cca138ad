from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.core.api.fields import StrictBooleanField
from portal.deployments.models import Deployment, Environment, Suspension, Target
from portal.deployments.selectors import suspension_of

# What a unit sees of its revision's ``serving`` record: the health the target reports. Where
# the model server runs (its socket or URL, its pid, its sandbox) is for the runtime, the gateway
# and platform admins (``/serving/``) only: a unit never calls its model server directly.
PUBLIC_SERVING = (
    "target_name",
    "state",
    "message",
    "restarts",
    "last_restart",
    "requested_at",
    "checked_at",
)


def public_serving(serving: dict | None) -> dict:
    return {key: serving[key] for key in PUBLIC_SERVING if serving and key in serving}


class DeploymentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    artifact_digest = serializers.CharField(source="model_version.artifact_digest", read_only=True)
    risk_tier = serializers.CharField(source="model_version.model.risk_tier", read_only=True)
    approval = serializers.SerializerMethodField()
    serving = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "revision",
            "model",
            "version",
            "artifact_digest",
            "risk_tier",
            "environment",
            "target",
            "instance_type",
            "replicas",
            "canary_weight",
            "drift_monitor",
            "shadow",
            "traffic_weight",
            "live_from",
            "live_until",
            "warm_until",
            "serving",
            "state",
            "decision",
            "approval",
            "requested_by_label",
            "created_at",
            "state_changed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {key: {} for key in PUBLIC_SERVING},
            "description": "The target's view of the revision: state, message, restarts.",
        }
    )
    def get_serving(self, deployment: Deployment) -> dict:
        return public_serving(deployment.serving)

    def get_approval(self, deployment: Deployment) -> int | None:
        approvals = sorted(deployment.approvals.all(), key=lambda a: a.created_at, reverse=True)
        return approvals[0].pk if approvals else None


class DeploymentRequestSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The registered model's name.")
    version = serializers.IntegerField(min_value=1)
    environment = serializers.ChoiceField(choices=Environment.choices)
    target = serializers.ChoiceField(choices=Target.choices, default=Target.LOCAL)
    instance_type = serializers.CharField(max_length=64)
    replicas = serializers.IntegerField(min_value=1, max_value=50, default=1)
    canary_weight = serializers.IntegerField(
        min_value=1, max_value=99, required=False, allow_null=True
    )
    drift_monitor = StrictBooleanField(default=True)
    shadow = StrictBooleanField(
        default=False, help_text="Send this revision a copy of the traffic; answers are captured."
    )
    name = serializers.CharField(
        max_length=63,
        required=False,
        allow_blank=True,
        default="",
        help_text="The endpoint; by default '<model>-<environment>'. An existing endpoint's name "
        "makes this request its next revision.",
    )


class RevisionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    health = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id",
            "revision",
            "version",
            "state",
            "traffic_weight",
            "shadow",
            "canary_weight",
            "health",
            "live_from",
            "live_until",
            "warm_until",
        ]
        read_only_fields = fields

    def get_health(self, deployment: Deployment) -> str:
        return str(deployment.serving.get("state", ""))


class SuspensionSerializer(serializers.ModelSerializer):
    since = serializers.DateTimeField(source="started_at", read_only=True)

    class Meta:
        model = Suspension
        fields = ["cause", "reason", "since"]
        read_only_fields = fields


class DeploymentDetailSerializer(DeploymentSerializer):
    revisions = serializers.SerializerMethodField()
    gateway_url = serializers.SerializerMethodField()
    suspension = serializers.SerializerMethodField()

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "gateway_url", "revisions", "suspension"]
        read_only_fields = fields

    @extend_schema_field(SuspensionSerializer(allow_null=True))
    def get_suspension(self, deployment: Deployment) -> dict | None:
        """Why the revision is suspended (a governance decision), or null when it is not."""
        suspension = suspension_of(deployment)
        return dict(SuspensionSerializer(suspension).data) if suspension else None

    @extend_schema_field(RevisionSerializer(many=True))
    def get_revisions(self, deployment: Deployment) -> list[dict]:
        siblings = (
            Deployment.objects.filter(name=deployment.name)
            .select_related("model_version")
            .order_by("-revision")
        )
        return list(RevisionSerializer(siblings, many=True).data)

    def get_gateway_url(self, deployment: Deployment) -> str:
        return (
            f"{settings.PORTAL_BASE_URL}/serve/{deployment.tenant.slug}/{deployment.name}"
            "/invocations"
        )


class RollbackSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Why, for the audit trail."
    )
