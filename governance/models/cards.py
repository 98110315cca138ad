"""Model cards, after SageMaker's: one per model version, prefilled from the catalog and MLflow."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class CardStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"


class ModelCard(TenantOwnedModel):
    """A version's card. Who edited it last and who sent it for review are kept, because neither
    may approve it: a card is approved by a second pair of eyes."""

    model_version = models.OneToOneField(
        "catalog.ModelVersion", on_delete=models.CASCADE, related_name="card"
    )
    purpose = models.TextField(blank=True)
    intended_uses = models.TextField(blank=True)
    factors = models.TextField(blank=True, help_text="Factors affecting the model's performance.")
    risk_explanation = models.TextField(blank=True)
    training_data = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    ethical_considerations = models.TextField(blank=True)
    owner = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=CardStatus.choices, default=CardStatus.DRAFT)
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_edited_by_label = models.CharField(max_length=150, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_by_label = models.CharField(max_length=150, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"card of version {self.model_version_id} ({self.status})"
