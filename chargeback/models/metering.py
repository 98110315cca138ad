"""Metering and rating: billing periods, the usage events measured in them, and the charges
they are rated into at the month close."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from chargeback.models.prices import PriceItem
from tenants.scoping import TenantOwnedModel


class Meter(models.TextChoices):
    DEPLOYMENT_HOURS = "deployment_hours", "Deployment hours"
    REQUESTS = "requests", "Requests"
    COMPUTE_SECONDS = "compute_seconds", "Compute seconds"
    STORAGE_GB_MONTHS = "storage_gb_months", "Artifact storage"
    MONITORED_MODEL_MONTHS = "monitored_model_months", "Monitored model-months"
    PLATFORM_OVERHEAD = "platform_overhead", "Platform overhead"


class PeriodState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSING = "closing", "Closing"
    CLOSED = "closed", "Closed"


class BillingPeriod(models.Model):
    """One calendar month (UTC) of chargeback, platform-wide.

    ``open`` takes usage; from ``closing`` on, usage that arrives for this month is charged in the
    next open month as a correction. While the close runs, ``processed`` of ``total`` tenants have
    their statement; ``last_error`` says why a close stopped (running it again continues).
    """

    month = models.DateField(unique=True, help_text="The first day of the month.")
    state = models.CharField(max_length=8, choices=PeriodState.choices, default=PeriodState.OPEN)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    rate_card_version = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-month"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


class UsageEvent(TenantOwnedModel):
    """One measured quantity of one meter for one resource over [start, end).

    ``idempotency_key`` is unique: an event sent twice is stored, and charged, once.
    ``charge_period`` is the month it is charged in: the month of ``start``, or the next open
    month when that one was already closing (``correction`` is then set).
    """

    meter = models.CharField(max_length=24, choices=Meter.choices)
    quantity = models.DecimalField(max_digits=28, decimal_places=12)
    unit = models.CharField(max_length=16)
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resource_id = models.CharField(max_length=100)
    resource_name = models.CharField(max_length=200, blank=True)
    instance_type = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=256, blank=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    charge_period = models.DateField()
    correction = models.BooleanField(default=False)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["charge_period", "tenant"], name="usage_period_tenant"),
            models.Index(fields=["tenant", "meter", "resource_id", "end"], name="usage_cursor"),
        ]

    def __str__(self) -> str:
        return f"{self.meter} {self.quantity} {self.unit} of {self.resource_id}"


class Charge(TenantOwnedModel):
    """The rated usage of one tenant, resource and meter in one charge period.

    Costs are unrounded: ``list_cost`` at catalog prices, ``contracted_cost`` after the rate
    card (markup, fees), ``billed_cost`` what the statement bills. ``price_item`` and
    ``rate_card_version`` say where the prices came from.
    """

    period = models.ForeignKey(BillingPeriod, on_delete=models.PROTECT, related_name="charges")
    meter = models.CharField(max_length=24, choices=Meter.choices)
    service = models.CharField(max_length=16)
    resource_id = models.CharField(max_length=100)
    resource_name = models.CharField(max_length=200, blank=True)
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    instance_type = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=256, blank=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    correction = models.BooleanField(default=False)
    quantity = models.DecimalField(max_digits=28, decimal_places=12)
    unit = models.CharField(max_length=16)
    list_unit_price = models.DecimalField(max_digits=28, decimal_places=12, null=True, blank=True)
    contracted_unit_price = models.DecimalField(
        max_digits=28, decimal_places=12, null=True, blank=True
    )
    list_cost = models.DecimalField(max_digits=28, decimal_places=12)
    contracted_cost = models.DecimalField(max_digits=28, decimal_places=12)
    billed_cost = models.DecimalField(max_digits=28, decimal_places=12)
    price_item = models.ForeignKey(
        PriceItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rate_card_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["period", "tenant", "service", "resource_name", "meter", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "tenant", "resource_id", "meter", "correction"],
                name="charge_unique_per_resource_meter",
            )
        ]

    def __str__(self) -> str:
        return f"{self.meter} of {self.resource_id}: {self.billed_cost}"
