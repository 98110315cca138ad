from __future__ import annotations

from rest_framework import serializers

from portal.deployments.models import Deployment, Environment, Target


class DeploymentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    artifact_digest = serializers.CharField(source="model_version.artifact_digest", read_only=True)
    risk_tier = serializers.CharField(source="model_version.model.risk_tier", read_only=True)
    approval = serializers.SerializerMethodField()

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
    drift_monitor = serializers.BooleanField(default=True)
    shadow = serializers.BooleanField(
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
