"""Statements: one per tenant and month, their lines, credit notes and disputes, and the
numbering of finalized statements."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from chargeback.models.metering import BillingPeriod, Charge
from tenants.scoping import TenantOwnedModel


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


def line_columns(*, model: str) -> tuple[str, ...]:
    """A statement line's columns in the order the API and the CSV export show them; ``model``
    names the model's column (``model`` in the CSV, ``model_name`` in the API)."""
    return (
        "position",
        "kind",
        "service",
        "meter",
        "deployment",
        "resource_id",
        "resource_name",
        model,
        "model_version",
        "instance_type",
        "correction",
        "description",
        "quantity",
        "unit",
        "list_cost",
        "contracted_cost",
        "billed_cost",
        "amount",
    )


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
