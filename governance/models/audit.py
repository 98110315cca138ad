"""The audit trail: append-only events, chained per tenant and sealed with a key.

Each tenant has its own chain (platform-wide events such as role grants form the ``platform``
chain). An event's seal is an HMAC-SHA256, under ``AUDIT_CHAIN_KEY``, of its content and the
previous event's seal, so editing, deleting or reordering a stored event breaks the chain at that
sequence number, and nobody without the key (the database's owner included) can seal a forgery.
``AuditChainHead`` keeps each chain's last sequence and seal, which also reveals a deleted tail;
signed copies of the heads are anchored outside the database (``governance/anchors.py``).

Events are refused UPDATE and DELETE by the model, by the queryset and, in the database, by a
trigger installed in this app's migrations. On PostgreSQL the application's role may only read
(under row-level security) and insert events, and only read heads: a trigger moves a chain's head
as each event is inserted, and refuses an event that does not extend its chain.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils import timezone

from tenants.scoping import TenantScopedManager


class AuditEventImmutable(RuntimeError):
    """An attempt to change or remove an audit event."""


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AuditEventImmutable("audit events are append-only")


class AuditEventQuerySet(models.QuerySet):
    update = _refuse
    delete = _refuse
    bulk_update = _refuse


class AuditEventManager(TenantScopedManager.from_queryset(AuditEventQuerySet)):  # type: ignore[misc]
    pass


class AuditEvent(models.Model):
    PLATFORM_CHAIN = "platform"

    chain = models.CharField(max_length=32, editable=False)
    sequence = models.PositiveBigIntegerField(editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_type = models.CharField(max_length=16)  # user, token or system
    actor_id = models.BigIntegerField(null=True, blank=True)  # no FK: users may go, events stay
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(editable=False)
    prev_seal = models.CharField(max_length=64, editable=False)
    seal = models.CharField(max_length=64, editable=False)

    objects = AuditEventManager()

    # What the application's database role may do with the table (``grant_app_role``).
    app_role_rights = ("SELECT", "INSERT")

    class Meta:
        ordering = ["chain", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "sequence"], name="audit_event_sequence_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["action"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.sequence} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()


class AuditChainHead(models.Model):
    """The last sequence number and seal of one chain; locked while an event is appended.

    Only the database moves it, as events are inserted (migration 0006).
    """

    chain = models.CharField(max_length=32, unique=True)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_seal = models.CharField(max_length=64, default="")

    app_role_rights = ("SELECT",)

    def __str__(self) -> str:
        return f"{self.chain} @ {self.last_sequence}"


class AuditVerification(models.Model):
    """One run of the chain verification, kept so people can see when the trail was last checked."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    chains_checked = models.PositiveIntegerField(default=0)
    events_checked = models.PositiveBigIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return (
            f"audit verification {self.started_at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'broken'})"
        )
