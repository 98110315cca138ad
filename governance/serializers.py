from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.classification import answers_diff
from governance.models import (
    ApprovalDecision,
    ApprovalRequest,
    AuditEvent,
    ClassificationAuthority,
    Delegation,
    Environment,
    Incident,
    IncidentEntry,
    IncidentSeverity,
    IncidentStatus,
    ModelCard,
    PolicyVersion,
    RiskClassification,
    TierProposal,
    Verdict,
)
from governance.services.cards import card_completeness
from portal.catalog.models import RiskTier
from portal.core.api.fields import StrictBooleanField


class AuditEventSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)  # type: ignore[var-annotated]
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "chain",
            "sequence",
            "tenant",
            "actor",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "request_id",
            "created_at",
            "prev_seal",
            "seal",
        ]
        read_only_fields = fields

    def get_actor(self, event: AuditEvent) -> dict:
        return {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label}


# --- Risk classification ----------------------------------------------------------------------


class ClassifySerializer(serializers.Serializer):
    answers = serializers.DictField(
        help_text="Each question's key to its answer (true/false, or a choice's value)."
    )


class SetBySerializer(serializers.Serializer):
    """Who set a tier: the unit or governance, and the person (or token) who did."""

    authority = serializers.ChoiceField(choices=ClassificationAuthority.choices, read_only=True)
    person = serializers.CharField(read_only=True)


def set_by(classification: RiskClassification) -> dict[str, str]:
    return {"authority": classification.set_by, "person": classification.classified_by_label}


class RiskClassificationSerializer(serializers.ModelSerializer):
    set_by = serializers.SerializerMethodField()

    class Meta:
        model = RiskClassification
        fields = [
            "id",
            "tier",
            "reasons",
            "answers",
            "classifier_version",
            "classified_by_label",
            "set_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(SetBySerializer)
    def get_set_by(self, classification: RiskClassification) -> dict[str, str]:
        return set_by(classification)


class AnswerChangeSerializer(serializers.Serializer):
    question = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)
    in_force = serializers.JSONField(read_only=True)
    proposed = serializers.JSONField(read_only=True)


class TierProposalSerializer(serializers.ModelSerializer):
    """The unit's answers waiting for (or decided by) a governance lead, with the tier in force
    when they were given and the answers they change."""

    model = serializers.CharField(source="model.name", read_only=True)
    tier_in_force = serializers.CharField(source="based_on.tier", read_only=True)
    diff = serializers.SerializerMethodField()

    class Meta:
        model = TierProposal
        fields = [
            "id",
            "model",
            "state",
            "tier_in_force",
            "tier",
            "reasons",
            "why",
            "diff",
            "answers",
            "classifier_version",
            "proposed_by_label",
            "created_at",
            "decided_by_label",
            "decided_at",
            "comment",
        ]
        read_only_fields = fields

    @extend_schema_field(AnswerChangeSerializer(many=True))
    def get_diff(self, proposal: TierProposal) -> list[dict[str, Any]]:
        return [
            change.as_dict() for change in answers_diff(proposal.based_on.answers, proposal.answers)
        ]


class ClassifiedSerializer(RiskClassificationSerializer):
    """Answers that took effect: the classification in force, and a sentence saying so."""

    message = serializers.SerializerMethodField()

    class Meta(RiskClassificationSerializer.Meta):
        fields = [*RiskClassificationSerializer.Meta.fields, "message"]
        read_only_fields = fields

    def get_message(self, _: Any) -> str:
        return str(self.context.get("message", ""))


class ProposedSerializer(TierProposalSerializer):
    """Answers that became a tier proposal, and a sentence saying that nothing changed yet."""

    message = serializers.SerializerMethodField()

    class Meta(TierProposalSerializer.Meta):
        fields = [*TierProposalSerializer.Meta.fields, "message"]
        read_only_fields = fields

    def get_message(self, _: Any) -> str:
        return str(self.context.get("message", ""))


class TierProposalRejectSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default="", help_text="Why (required)."
    )


class ClassificationOverviewSerializer(serializers.Serializer):
    """A model's questionnaire, the classification in force (if any) and who set it, the open
    tier proposal (if any) and the newest 50 classifications."""

    model = serializers.CharField(read_only=True)
    tier = serializers.ChoiceField(choices=RiskTier.choices, allow_blank=True, read_only=True)
    set_by = SetBySerializer(read_only=True, allow_null=True)
    questionnaire = serializers.DictField(read_only=True)
    current = RiskClassificationSerializer(read_only=True, allow_null=True)
    open_proposal = TierProposalSerializer(read_only=True, allow_null=True)
    history = RiskClassificationSerializer(many=True, read_only=True)


# --- Policies -----------------------------------------------------------------------------------


class PolicyVersionSerializer(serializers.ModelSerializer):
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = PolicyVersion
        fields = [
            "id",
            "name",
            "version",
            "description",
            "tenants",
            "content_hash",
            "source",
            "note",
            "published_by_label",
            "created_at",
            "in_force",
            "document",
        ]
        read_only_fields = fields

    def get_in_force(self, version: PolicyVersion) -> bool:
        return version.pk in self.context.get("in_force_ids", set())


class PolicyPublishSerializer(serializers.Serializer):
    document = serializers.CharField(trim_whitespace=False, help_text="The policy's YAML.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class DryRunSerializer(serializers.Serializer):
    """A hypothetical request: name a real tenant's model version, or give the context outright."""

    tenant = serializers.SlugField(required=False)
    model = serializers.CharField(required=False)
    version = serializers.IntegerField(required=False, min_value=1)
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    target = serializers.CharField(required=False, default="local")
    instance_type = serializers.CharField(required=False, default="cpu.small")
    replicas = serializers.IntegerField(required=False, default=1, min_value=1)
    drift_monitor = StrictBooleanField(required=False, default=True)
    context = serializers.DictField(  # type: ignore[assignment]  # a field named like Field.context
        required=False, help_text="A whole request context (see the policy documentation)."
    )
    document = serializers.CharField(
        required=False, trim_whitespace=False, help_text="A draft policy to try instead."
    )


class DecisionSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    requirements = serializers.DictField(child=serializers.IntegerField())
    reasons = serializers.ListField(child=serializers.CharField())
    rules = serializers.ListField(child=serializers.DictField())
    policy = serializers.DictField(allow_null=True)
    context = serializers.DictField()  # type: ignore[assignment]  # a field named like Field.context


# --- Approvals ----------------------------------------------------------------------------------


class ApprovalDecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = ApprovalDecision
        fields = ["reviewer", "reviewer_role", "verdict", "comment", "created_at"]
        read_only_fields = fields


class ApprovalSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    environment = serializers.CharField(source="deployment.environment", read_only=True)
    target = serializers.CharField(source="deployment.target", read_only=True)
    instance_type = serializers.CharField(source="deployment.instance_type", read_only=True)
    policy = serializers.SerializerMethodField()
    decisions = ApprovalDecisionSerializer(many=True, read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "tenant",
            "state",
            "purpose",
            "deployment",
            "model",
            "version",
            "artifact_digest",
            "environment",
            "target",
            "instance_type",
            "risk_tier",
            "requirements",
            "reasons",
            "policy",
            "requested_by_label",
            "created_at",
            "expires_at",
            "closed_at",
            "reminded_at",
            "escalated_at",
            "decisions",
        ]
        read_only_fields = fields

    def get_policy(self, approval: ApprovalRequest) -> dict:
        policy = approval.policy_version
        return {"id": policy.pk, "name": policy.name, "version": policy.version}


class DecideSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")

    def validate(self, data: dict) -> dict:
        if data["verdict"] != Verdict.APPROVE and not data.get("comment", "").strip():
            raise serializers.ValidationError(
                {"comment": "Say why, so the unit knows what to change."}
            )
        return data


# --- Model cards --------------------------------------------------------------------------------


class ModelCardSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    risk_rating = serializers.CharField(source="model_version.model.risk_tier", read_only=True)
    evaluation_metrics = serializers.JSONField(source="model_version.metrics", read_only=True)
    completeness = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, default="")
    last_edited_by = serializers.CharField(source="last_edited_by_label", read_only=True)
    submitted_by = serializers.CharField(source="submitted_by_label", read_only=True)

    class Meta:
        model = ModelCard
        fields = [
            "model",
            "version",
            "status",
            "completeness",
            "missing",
            "purpose",
            "intended_uses",
            "factors",
            "risk_rating",
            "risk_explanation",
            "training_data",
            "evaluation_metrics",
            "limitations",
            "ethical_considerations",
            "owner",
            "last_edited_by",
            "submitted_by",
            "approved_by",
            "approved_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_completeness(self, card: ModelCard) -> int:
        return card_completeness(card, card.model_version)[0]

    def get_missing(self, card: ModelCard) -> list[str]:
        return card_completeness(card, card.model_version)[1]


class ModelCardUpdateSerializer(serializers.Serializer):
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    intended_uses = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    factors = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    risk_explanation = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    training_data = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    limitations = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    ethical_considerations = serializers.CharField(
        required=False, allow_blank=True, max_length=10000
    )
    owner = serializers.CharField(required=False, allow_blank=True, max_length=150)


class CardReviewSerializer(serializers.Serializer):
    approve = StrictBooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


# --- Delegations --------------------------------------------------------------------------------


class DelegationSerializer(serializers.ModelSerializer):
    lead = serializers.CharField(source="lead.username", read_only=True)
    delegate = serializers.CharField(source="delegate.username", read_only=True)
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Delegation
        fields = [
            "id",
            "lead",
            "delegate",
            "starts_at",
            "ends_at",
            "note",
            "state",
            "created_by_label",
            "created_at",
            "ended_at",
            "ended_by_label",
        ]
        read_only_fields = fields


class DelegationCreateSerializer(serializers.Serializer):
    delegate = serializers.CharField(
        max_length=150, help_text="The username of another governance lead."
    )
    starts_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="From when; now if left out."
    )
    ends_at = serializers.DateTimeField(help_text="Until when (in the future).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


# --- Incidents ----------------------------------------------------------------------------------


class IncidentEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentEntry
        fields = ["kind", "text", "author_label", "created_at"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(
        source="model.name", read_only=True, default=None, allow_null=True
    )
    time_to_resolve_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "description",
            "severity",
            "status",
            "source",
            "opened_by_label",
            "model",
            "deployment",
            "resolution",
            "opened_at",
            "resolved_at",
            "time_to_resolve_seconds",
        ]
        read_only_fields = fields

    def get_time_to_resolve_seconds(self, incident: Incident) -> int | None:
        delta = incident.time_to_resolve
        return int(delta.total_seconds()) if delta is not None else None


class IncidentDetailSerializer(IncidentSerializer):
    entries = IncidentEntrySerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "entries"]
        read_only_fields = fields


class IncidentOpenSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=IncidentSeverity.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    model = serializers.CharField(required=False, help_text="A registered model's name.")
    deployment = serializers.IntegerField(required=False)


class IncidentChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    severity = serializers.ChoiceField(choices=IncidentSeverity.choices, required=False)
    resolution = serializers.CharField(required=False, allow_blank=True, default="")


class IncidentNoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10000)
