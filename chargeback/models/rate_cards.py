"""Rate cards: the versioned internal prices charged on top of list prices."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


class OverheadAllocation(models.TextChoices):
    EVEN = "even", "Evenly across active tenants"
    USAGE = "usage", "In proportion to each tenant's usage"
    WEIGHTS = "weights", "By fixed weights per tenant"


class RateCard(models.Model):
    """One version of the internal prices charged on top of list prices.

    The newest version is in force; publishing a change creates a new version (audited).
    """

    version = models.PositiveIntegerField(unique=True)
    currency = models.CharField(max_length=3, default="USD")
    markup_percent = models.DecimalField(max_digits=7, decimal_places=4)
    monitoring_fee_per_model_month = models.DecimalField(max_digits=14, decimal_places=4)
    storage_price_per_gb_month = models.DecimalField(
        max_digits=18,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="Overrides the catalog's storage price when set.",
    )
    overhead_allocation = models.CharField(
        max_length=8, choices=OverheadAllocation.choices, default=OverheadAllocation.EVEN
    )
    overhead_weights = models.JSONField(default=dict, blank=True)  # tenant slug -> "weight"
    overhead_monthly = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"rate card v{self.version}"
