"""Budgets: what a tenant means to spend in a month, and the thresholds announced once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


def default_thresholds() -> list[int]:
    return [50, 80, 100]


class Budget(TenantOwnedModel):
    """A tenant's monthly budget: the amount it means to spend in a calendar month (UTC), and the
    percentages of it at which its owners are told (once per threshold and month)."""

    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    thresholds = models.JSONField(default=default_thresholds)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="budget_one_per_tenant")]

    def __str__(self) -> str:
        return f"budget of tenant {self.tenant_id}: {self.amount} {self.currency}"


class BudgetAlert(TenantOwnedModel):
    """One threshold of a tenant's budget crossed in one month: its row is what makes the alert
    go out once (the unique constraint), and records what was spent when it did."""

    month = models.DateField(help_text="The first day of the month.")
    threshold = models.PositiveIntegerField()
    budget_amount = models.DecimalField(max_digits=14, decimal_places=2)
    spend = models.DecimalField(max_digits=28, decimal_places=12)
    forecast = models.DecimalField(max_digits=28, decimal_places=12, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-month", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "month", "threshold"], name="budget_alert_once_per_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.threshold}% of the budget in {self.month:%Y-%m}"
