"""Chargeback: the price catalog, the rate card, metered usage, charges and statements.

Usage events (tenant-owned, one per idempotency key) are rated at the month close into charges
(one per tenant, resource, meter and month, unrounded, with their prices' provenance) and
drafted into one statement per tenant, whose lines are rounded once each (see ``Statement``).

Prices are platform-wide, not tenant-owned: every unit pays the same list prices. A source's
``current_snapshot`` is the snapshot in force; a refresh that finds the same content changes
nothing, and a failed refresh leaves it as it was. Rate cards are versioned: the newest version
is in force and no version is ever edited. Money is ``Decimal`` everywhere.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel

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


# --- Metering, rating and statements ------------------------------------------------------------


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


class StatementState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    FINALIZED = "finalized", "Finalized"
    VOID = "void", "Void"


class Statement(TenantOwnedModel):
    """A tenant's chargeback statement for one month.

    Rounding rule: every line is rounded once, to the cent, half up (``ROUND_HALF_UP``: 0.125 ->
    0.13, -0.125 -> -0.13), from the unrounded billed cost of its charge; ``total`` is the sum of
    the rounded lines, so it always equals what the lines add up to. Nothing else is rounded.

    ``draft`` -> ``in_review`` -> ``finalized`` (numbered ``CB-<year>-<0001>`` per year of
    finalization; never changes again: any change is a 409). A draft or a statement in review
    can be made ``void`` with a reason. Corrections of a finalized statement are credit notes,
    which appear on the tenant's next statement as negative lines.
    """

    period = models.ForeignKey(BillingPeriod, on_delete=models.PROTECT, related_name="statements")
    state = models.CharField(
        max_length=10, choices=StatementState.choices, default=StatementState.DRAFT
    )
    number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal(0))
    rate_card_version = models.PositiveIntegerField(default=0)
    void_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-period__month", "tenant_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period"], name="statement_one_per_period")
        ]

    def __str__(self) -> str:
        return self.number or f"draft statement {self.pk}"


class LineKind(models.TextChoices):
    USAGE = "usage", "Usage"
    OVERHEAD = "overhead", "Platform overhead"
    CREDIT = "credit", "Credit note"


class StatementLine(TenantOwnedModel):
    """One line of a statement: one meter of one resource (or a credit note), rounded once."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=LineKind.choices, default=LineKind.USAGE)
    service = models.CharField(max_length=16)
    meter = models.CharField(max_length=24, blank=True)
    charge = models.ForeignKey(
        Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )
    credit_note = models.OneToOneField(
        "CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="line"
    )
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resource_id = models.CharField(max_length=100, blank=True)
    resource_name = models.CharField(max_length=200, blank=True)
    instance_type = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=256, blank=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    correction = models.BooleanField(default=False)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=28, decimal_places=12, null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    list_cost = models.DecimalField(max_digits=28, decimal_places=12)
    contracted_cost = models.DecimalField(max_digits=28, decimal_places=12)
    billed_cost = models.DecimalField(max_digits=28, decimal_places=12)
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["statement", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "position"], name="statement_line_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class CreditNote(TenantOwnedModel):
    """Money given back on a statement (usually settling a dispute); it appears as a negative
    line on the tenant's next statement (``applied_to``)."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="credit_notes")
    statement_line = models.ForeignKey(
        StatementLine, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    reason = models.CharField(max_length=500)
    applied_to = models.ForeignKey(
        Statement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applied_credit_notes",
    )
    issued_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"credit note {self.pk}: {self.amount}"


class DisputeState(models.TextChoices):
    OPEN = "open", "Open"
    SETTLED = "settled", "Settled with a credit note"
    REJECTED = "rejected", "Rejected"


class LineDispute(TenantOwnedModel):
    """A tenant owner's objection to one statement line, and how finance settled it."""

    line = models.ForeignKey(StatementLine, on_delete=models.PROTECT, related_name="disputes")
    state = models.CharField(max_length=10, choices=DisputeState.choices, default=DisputeState.OPEN)
    comment = models.TextField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_by_label = models.CharField(max_length=150)
    resolution = models.TextField(blank=True)
    resolved_by_label = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    credit_note = models.OneToOneField(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="dispute"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.state})"


class StatementSequence(models.Model):
    """The last statement number given in a year (locked while a statement is finalized)."""

    year = models.PositiveIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


# --- Budgets --------------------------------------------------------------------------------------


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
