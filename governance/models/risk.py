"""Risk classifications: the answers to a model's EU AI Act questionnaire and the tier they give,
and the tier proposals by which the unit asks a governance lead for a tier it may not set itself."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.catalog.models import RiskTier
from tenants.scoping import TenantOwnedModel


class ClassificationAuthority(models.TextChoices):
    """Who set a tier: the governed unit (its people or its tokens), or a governance lead."""

    UNIT = "unit", "the unit"
    GOVERNANCE = "governance", "governance"


class RiskClassification(TenantOwnedModel):
    """One answered questionnaire. The newest one per model is in force; older ones are history."""

    model = models.ForeignKey(
        "catalog.RegisteredModel", on_delete=models.CASCADE, related_name="classifications"
    )
    answers = models.JSONField()
    tier = models.CharField(max_length=16, choices=RiskTier.choices)
    reasons = models.JSONField(default=list)
    classifier_version = models.CharField(max_length=16)
    classified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    classified_by_label = models.CharField(max_length=150)
    set_by = models.CharField(
        max_length=16, choices=ClassificationAuthority.choices, default=ClassificationAuthority.UNIT
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "-created_at"], name="risk_model_time")]

    def __str__(self) -> str:
        return f"{self.model_id}: {self.tier} ({self.classifier_version})"


class ProposalState(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class TierProposal(TenantOwnedModel):
    """The unit's answers that a governance lead must accept before they take effect: they give a
    lower tier than the one in force, or differ from the answers a lead set. ``based_on`` is the
    classification in force when they were given, which the proposal's diff compares with."""

    model = models.ForeignKey(
        "catalog.RegisteredModel", on_delete=models.CASCADE, related_name="tier_proposals"
    )
    based_on = models.ForeignKey(
        RiskClassification, on_delete=models.PROTECT, related_name="proposals"
    )
    answers = models.JSONField()
    tier = models.CharField(max_length=16, choices=RiskTier.choices)
    reasons = models.JSONField(default=list)
    classifier_version = models.CharField(max_length=16)
    why = models.CharField(max_length=300)
    state = models.CharField(
        max_length=16, choices=ProposalState.choices, default=ProposalState.OPEN
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_by_label = models.CharField(max_length=150)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_label = models.CharField(max_length=150, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"], name="tier_proposal_queue")]
        constraints = [
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(state="open"),
                name="one_open_tier_proposal_per_model",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_id}: {self.tier} proposed ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == ProposalState.OPEN
