"""Models of the portal as a whole (not of one app or tenant)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class TaskOutbox(models.Model):
    """A task the broker could not take when its transaction committed, kept until it is sent.

    See ``portal.core.outbox``. Not tenant data: the row holds a task's name and arguments (ids),
    and only the relay reads it.
    """

    task_id = models.CharField(max_length=64, unique=True)
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)  # of the request that enqueued it

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"
