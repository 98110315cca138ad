"""Approval policies: versioned documents of CEL rules, platform-wide, never edited in place."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Environment(models.TextChoices):
    """The environments a deployment is requested for, which policies tell apart."""

    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class PolicyVersion(models.Model):
    """One published version of a policy document.

    ``tenants`` empty means the policy applies to every tenant without a policy of its own.
    The newest version of a name is the one in force; publishing never changes an old version.
    """

    name = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    document = models.TextField()
    content_hash = models.CharField(max_length=64)
    tenants = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=200)  # "repo:governance/policies/default.yaml" or "api"
    note = models.CharField(max_length=500, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
