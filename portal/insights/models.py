"""Insights kept per tenant: maturity assessments over time, and the ROI estimate's inputs.

An assessment is a snapshot: every question's answer, who answered it (the portal from its own
data, or the tenant owner) and the evidence the portal saw, with the score and level it gave.
Assessments are never edited; a new one is saved instead, so the level has a history.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class MaturityAssessment(TenantOwnedModel):
    answers = models.JSONField()  # {question id: true/false}
    answered_by = models.JSONField()  # {question id: "portal" | "owner"}
    evidence = models.JSONField(default=dict, blank=True)  # {question id: sentence}
    yes_count = models.PositiveSmallIntegerField()
    level = models.PositiveSmallIntegerField()  # 0..3, 3 meaning "Level 3-4"
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assessed_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="maturity_tenant_time")]

    def __str__(self) -> str:
        return f"maturity of tenant {self.tenant_id}: {self.yes_count}/16"


class RoiInputs(TenantOwnedModel):
    """The ROI estimate's inputs a tenant owner enters (one row per tenant).

    The platform-side inputs (weeks to production with the platform, models per year, incidents
    per year) are measured; the values here stand in for them only while nothing is measured.
    """

    team_size = models.PositiveIntegerField(default=5)
    avg_salary = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(90000))
    weeks_to_production_before = models.DecimalField(
        max_digits=7, decimal_places=2, default=Decimal(16)
    )
    avg_incident_cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(75000))
    incident_reduction = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.75")
    )
    investment = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(200000))
    models_per_year = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal(6))
    weeks_to_production_with_platform = models.DecimalField(
        max_digits=7, decimal_places=2, default=Decimal(3)
    )
    incidents_per_year = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal(4))
    currency = models.CharField(max_length=3, default="USD")
    updated_by_label = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="roi_inputs_one_per_tenant")]

    def __str__(self) -> str:
        return f"ROI inputs of tenant {self.tenant_id}"
