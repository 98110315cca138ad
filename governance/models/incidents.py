"""Incidents: opened by a person or by the system, with a timeline and a resolution."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class IncidentSeverity(models.TextChoices):
    SEV1 = "sev1", "SEV1: critical"
    SEV2 = "sev2", "SEV2: major"
    SEV3 = "sev3", "SEV3: minor"
    SEV4 = "sev4", "SEV4: low"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"


class Incident(TenantOwnedModel):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=8, choices=IncidentSeverity.choices)
    status = models.CharField(
        max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    source = models.CharField(max_length=32, default="person")  # person, drift, rollout, ...
    opened_by_label = models.CharField(max_length=150)
    model = models.ForeignKey(
        "catalog.RegisteredModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    deployment = models.ForeignKey(
        "deployments.Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    resolution = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "-opened_at"], name="incident_status_time")]

    def __str__(self) -> str:
        return f"incident {self.pk}: {self.title}"

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.opened_at if self.resolved_at else None


class IncidentEntry(TenantOwnedModel):
    """One line of an incident's timeline: a note, a status change, a system observation."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, default="note")  # note, status, system
    text = models.TextField()
    author_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on incident {self.incident_id}"
