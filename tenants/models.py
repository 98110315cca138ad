"""Tenants (the company's business units), people, their roles, service tokens and webhooks."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class PlatformRole(models.TextChoices):
    """Roles that span every tenant, held by people of the central platform team."""

    GOVERNANCE_LEAD = "governance_lead", "Governance lead"
    FINANCE = "finance", "Finance"
    PLATFORM_ADMIN = "platform_admin", "Platform admin"


class TenantRole(models.TextChoices):
    """A person's role inside one tenant."""

    VIEWER = "viewer", "Viewer"
    ENGINEER = "engineer", "ML engineer"
    OWNER = "owner", "Tenant owner"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    DEPLOY = "deploy", "Deploy"
    PREDICT = "predict", "Predict"


class User(AbstractUser):
    platform_role = models.CharField(
        max_length=32,
        choices=PlatformRole.choices,
        blank=True,
        default="",
        help_text="A platform-wide role; empty for people who only belong to tenants.",
    )

    @property
    def is_platform_admin(self) -> bool:
        return self.platform_role == PlatformRole.PLATFORM_ADMIN

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class Tenant(models.Model):
    """A business unit. Tenants are deactivated, never deleted: their history must stay."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=120)
    cost_center = models.CharField(
        max_length=40,
        blank=True,
        help_text="The cost-center code that chargeback statements carry.",
    )
    active = models.BooleanField(default=True)
    mlflow_name_prefix = models.CharField(
        max_length=100,
        blank=True,
        help_text="Registered models whose names start with this belong to the tenant too "
        "(besides those tagged portal.tenant=<slug>).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(TenantOwnedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=TenantRole.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in tenant {self.tenant_id}"


class ServiceToken(TenantOwnedModel):
    """A tenant's API credential. Only a SHA-256 of the secret is kept; the prefix identifies it."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class WebhookEndpoint(TenantOwnedModel):
    """A URL of the tenant's that receives its events as signed JSON POSTs.

    The secret is kept as given because it is the HMAC key the receiver verifies with; it is shown
    once, in the answer to the creation, and never again.
    """

    # Not a URLField: hosts without a dot are fine on a private network (see notifications.py).
    url = models.CharField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    events = models.JSONField(
        default=list, help_text='Event names this endpoint receives, or ["*"] for all of them.'
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def receives(self, event: str) -> bool:
        return self.active and ("*" in self.events or event in self.events)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(TenantOwnedModel):
    """One event on its way to one endpoint, with the outcome of its last attempt."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set while an attempt is in flight: another run waits until then, and takes over after it
    # (the worker of the attempt was lost). Cleared when the outcome is recorded.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
