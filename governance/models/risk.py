"""Risk classifications: the answers to a model's EU AI Act questionnaire and the tier they give."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.catalog.models import RiskTier
from tenants.scoping import TenantOwnedModel


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
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "-created_at"], name="risk_model_time")]

    def __str__(self) -> str:
        return f"{self.model_id}: {self.tier} ({self.classifier_version})"
