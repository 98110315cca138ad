"""Writing and verifying the audit trail.

``audit_record`` appends one event to its tenant's chain inside the caller's transaction, so a
rolled-back change leaves no event. ``audit_verify`` walks chains and names the first sequence
number where the stored trail no longer matches its hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from governance.models import AuditChainHead, AuditEvent, AuditVerification
from portal.middleware import current_request_id


@dataclass(frozen=True)
class Actor:
    """Who did something: a person, a service token (by its visible prefix) or the system."""

    type: str
    label: str
    id: int | None = None

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(type="user", label=user.get_username(), id=user.pk)

    @classmethod
    def token(cls, prefix: str) -> Actor:
        return cls(type="token", label=prefix)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(type="system", label=label)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        principal = request.user
        prefix = getattr(principal, "token_prefix", None)
        return cls.token(prefix) if prefix else cls.user(principal)


def chain_key(tenant_id: int | None) -> str:
    return f"tenant:{tenant_id}" if tenant_id is not None else AuditEvent.PLATFORM_CHAIN


def _normalize(value: Any) -> Any:
    """JSON-safe form of a value, exactly as it is stored and read back."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: AuditEvent) -> str:
    payload = {
        "chain": event.chain,
        "sequence": event.sequence,
        "tenant": event.tenant_id,
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "object": [event.object_type, event.object_id],
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


@dataclass(frozen=True)
class Change:
    """One change to record: what happened to which object, with the values before and after."""

    action: str
    object_type: str
    object_id: Any
    before: dict | None = None
    after: dict | None = None


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any,
    tenant_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event to the tenant's chain (or the platform chain when ``tenant_id`` is None)."""
    change = Change(
        action=action, object_type=object_type, object_id=object_id, before=before, after=after
    )
    return audit_record_many(actor=actor, tenant_id=tenant_id, changes=[change])[0]


def audit_record_many(
    *, actor: Actor, tenant_id: int | None, changes: list[Change]
) -> list[AuditEvent]:
    """Append events for several changes by one actor to one chain, in order.

    Must run inside the transaction of the changes it records: the events commit or roll back
    with them. The chain head row is locked for the append, so concurrent writers queue up.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    if not changes:
        return []
    key = chain_key(tenant_id)
    AuditChainHead.objects.get_or_create(chain=key)
    head = AuditChainHead.objects.select_for_update().get(chain=key)
    now, request_id = timezone.now(), current_request_id()
    events = []
    for change in changes:
        event = AuditEvent(
            chain=key,
            sequence=head.last_sequence + 1,
            tenant_id=tenant_id,
            actor_type=actor.type,
            actor_id=actor.id,
            actor_label=actor.label[:150],
            action=change.action,
            object_type=change.object_type,
            object_id=str(change.object_id),
            before=_normalize(change.before),
            after=_normalize(change.after),
            request_id=request_id,
            created_at=now,
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event)
        head.last_sequence, head.last_hash = event.sequence, event.hash
        events.append(event)
    AuditEvent.objects.dangerously_across_tenants().bulk_create(events)
    head.save(update_fields=["last_sequence", "last_hash"])
    return events


def apply_updates(
    instance: Any, *, editable: Iterable[str], updates: dict, refusal: str
) -> tuple[dict, dict]:
    """Set the fields ``updates`` really changes on ``instance`` (unsaved); return before and after.

    A field outside ``editable`` is refused with ``refusal`` followed by the offending names.
    """
    editable = tuple(editable)
    unknown = set(updates) - set(editable)
    if unknown:
        from portal.errors import InvalidRequest

        raise InvalidRequest(f"{refusal}: {', '.join(sorted(unknown))}.")
    before, after = {}, {}
    for name in editable:
        if name in updates and getattr(instance, name) != updates[name]:
            before[name] = getattr(instance, name)
            after[name] = updates[name]
            setattr(instance, name, updates[name])
    return before, after


@dataclass
class ChainReport:
    chain: str
    events_checked: int = 0
    first_broken_sequence: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_sequence is None


def _verify_chain(
    key: str, events: Iterable[AuditEvent], head: AuditChainHead | None
) -> ChainReport:
    report = ChainReport(chain=key)
    expected_sequence, prev_hash = 1, ""
    for event in events:
        report.events_checked += 1
        if event.sequence != expected_sequence:
            report.first_broken_sequence = expected_sequence
            report.reason = f"sequence {expected_sequence} is missing (found {event.sequence} next)"
            return report
        if event.prev_hash != prev_hash:
            report.first_broken_sequence = event.sequence
            report.reason = "its link to the previous event does not match (reordered or replaced)"
            return report
        if event_hash(event) != event.hash:
            report.first_broken_sequence = event.sequence
            report.reason = "its content no longer matches its hash (edited)"
            return report
        expected_sequence, prev_hash = event.sequence + 1, event.hash
    if head is not None and head.last_sequence >= expected_sequence:
        report.first_broken_sequence = expected_sequence
        report.reason = (
            f"the chain head records {head.last_sequence} events but the trail ends at "
            f"{expected_sequence - 1} (events deleted from the end)"
        )
    elif head is not None and head.last_sequence and head.last_hash != prev_hash:
        report.first_broken_sequence = head.last_sequence
        report.reason = "the last event's hash differs from the one the chain head recorded"
    return report


def audit_verify(*, tenant_ids: Iterable[int | None] | None = None) -> list[ChainReport]:
    """Verify the given chains (every chain when ``tenant_ids`` is None), one report each."""
    heads = {head.chain: head for head in AuditChainHead.objects.all()}
    # A cross-tenant read by design: verification must see every chain, including a tampered one.
    events = AuditEvent.objects.dangerously_across_tenants()
    if tenant_ids is None:
        keys = sorted(
            set(heads) | set(events.order_by().values_list("chain", flat=True).distinct())
        )
    else:
        keys = [chain_key(tenant_id) for tenant_id in tenant_ids]
    return [
        _verify_chain(
            key, events.filter(chain=key).order_by("sequence").iterator(2000), heads.get(key)
        )
        for key in keys
    ]


def audit_verification_run() -> AuditVerification:
    """Verify every chain and keep the result."""
    run = AuditVerification.objects.create()
    reports = audit_verify()
    run.chains_checked = len(reports)
    run.events_checked = sum(r.events_checked for r in reports)
    run.failures = [
        {"chain": r.chain, "first_broken_sequence": r.first_broken_sequence, "reason": r.reason}
        for r in reports
        if not r.ok
    ]
    run.ok = not run.failures
    run.finished_at = timezone.now()
    run.save()
    return run
