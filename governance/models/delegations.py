"""Delegations: a governance lead names another lead to stand in for them for a period."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Delegation(models.Model):
    """While in force (from ``starts_at`` until ``ends_at``, unless ended early), the reminders
    of approval requests that would go to ``lead`` go to ``delegate``. Platform-wide, like the
    governance leads themselves."""

    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True)  # when it was ended early
    ended_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["lead", "ends_at"], name="delegation_of_lead")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="delegation_ends_after_it_starts"
            ),
            models.CheckConstraint(
                condition=~Q(delegate=F("lead")), name="delegation_to_someone_else"
            ),
        ]

    def __str__(self) -> str:
        return f"delegation of {self.lead_id} to {self.delegate_id}"

    @property
    def state(self) -> str:
        """'in force', 'upcoming', 'ended' (early) or 'over' (its period has passed)."""
        now = timezone.now()
        if self.ended_at is not None:
            return "ended"
        if now >= self.ends_at:
            return "over"
        return "in force" if now >= self.starts_at else "upcoming"
