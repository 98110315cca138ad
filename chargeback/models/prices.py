"""The price catalog: where list prices come from, each fetched version of them, and the
prices themselves. Platform-wide, not tenant-owned: every unit pays the same list prices."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

# 730 hours: the month length the estimates and the seeds' figures use (8,760 h / 12).
HOURS_PER_MONTH = Decimal(730)


class SourceKind(models.TextChoices):
    BUILTIN = "builtin", "Built-in default catalog"
    AWS_BULK = "aws_bulk", "AWS Price List bulk offer file"
    AZURE_RETAIL = "azure_retail", "Azure Retail Prices API"
    MANUAL = "manual", "Entered by a platform admin"


class RefreshStatus(models.TextChoices):
    NEVER = "never", "Never refreshed"
    RUNNING = "running", "Refreshing"
    OK = "ok", "Up to date"
    FAILED = "failed", "Last refresh failed"


class PriceService(models.TextChoices):
    INFERENCE = "inference", "Inference"
    TRAINING = "training", "Training"
    STORAGE = "storage", "Artifact storage"
    MONITORING = "monitoring", "Monitoring"


class PricingUnit(models.TextChoices):
    HOUR = "hour", "per hour"
    GB_MONTH = "GB-month", "per GB-month"
    MODEL_MONTH = "model-month", "per monitored model-month"
    THOUSAND_REQUESTS = "1K requests", "per 1,000 requests"


class PriceSource(models.Model):
    """Where list prices come from, and how its last refresh went (its health)."""

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    url = models.CharField(max_length=500, blank=True)
    region = models.CharField(
        max_length=64, blank=True, help_text="Only prices of this region (e.g. us-east-1, eastus)."
    )
    enabled = models.BooleanField(default=True)
    current_snapshot = models.ForeignKey(
        "PriceSnapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=RefreshStatus.choices, default=RefreshStatus.NEVER
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # What the source called the version it last served (AWS: the offer file's URL), so a daily
    # refresh does not download an unchanged file again.
    last_version = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceSnapshot(models.Model):
    """One version of a source's prices, as fetched; never changed after it is written."""

    source = models.ForeignKey(PriceSource, on_delete=models.PROTECT, related_name="snapshots")
    fetched_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When the source published these prices."
    )
    content_hash = models.CharField(max_length=64)  # sha256 of the normalized items
    item_count = models.PositiveIntegerField(default=0)
    version = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-fetched_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "content_hash"], name="price_snapshot_unique_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source.name} @ {self.fetched_at:%Y-%m-%d}"


class PriceItem(models.Model):
    """One list price: what (service, instance type), where (region), per what unit, how much."""

    snapshot = models.ForeignKey(PriceSnapshot, on_delete=models.CASCADE, related_name="items")
    service = models.CharField(max_length=16, choices=PriceService.choices)
    sku = models.CharField(max_length=128)
    region = models.CharField(max_length=64, blank=True)
    instance_type = models.CharField(max_length=64, blank=True)
    pricing_unit = models.CharField(max_length=16, choices=PricingUnit.choices)
    unit_price = models.DecimalField(max_digits=18, decimal_places=10)
    currency = models.CharField(max_length=3, default="USD")
    description = models.CharField(max_length=300, blank=True)
    effective_from = models.DateTimeField(null=True, blank=True)
    effective_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "instance_type", "unit_price", "id"]
        indexes = [
            models.Index(fields=["instance_type", "service"], name="price_item_type_service"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.instance_type or self.sku}: {self.unit_price} {self.currency}/{self.pricing_unit}"
