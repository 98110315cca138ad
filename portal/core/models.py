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


class IdempotencyKey(models.Model):
    """A POST sent with an ``Idempotency-Key``, and the answer it got, kept until ``expires_at``.

    See ``portal.core.api.idempotency``. Not tenant data: the row belongs to a caller (``user:<id>``
    or ``token:<prefix>``), whoever's tenant the request was about, and only that caller, once
    authenticated again, is answered from it. ``status_code`` is empty while the first request
    is still being answered.
    """

    caller = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the method, path and body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")
    # The answer carried a secret shown once (a service token's): it was not kept, nor is replayed.
    withheld = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_per_caller")
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"
