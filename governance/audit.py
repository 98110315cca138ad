"""Writing and verifying the audit trail: the implementation behind ``portal.core.audit``.

``audit_chain_append``, the writer behind ``portal.core.audit.audit_record`` (registered when the
app is ready), appends events to their tenant's chain inside the caller's transaction, so a
rolled-back change leaves no event. Each event is sealed: an HMAC-SHA256 under ``AUDIT_CHAIN_KEY``
of its content and the previous event's seal. The database holds the seals but never the key, so
someone who can write the database (its owner included) cannot seal a forged or edited event.
``audit_verify`` walks chains, checks every seal, the chain heads and the signed anchors written
outside the database (``governance.anchors``), and names the first sequence number where the
stored trail no longer matches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_guid import get_guid

from governance.anchors import Anchor, anchors_read
from governance.models import AuditChainHead, AuditEvent, AuditVerification
from governance.seals import keyed_digest, seals_match
from portal.core.audit import Actor, Change


def chain_key(tenant_id: int | None) -> str:
    return f"tenant:{tenant_id}" if tenant_id is not None else AuditEvent.PLATFORM_CHAIN


def _normalize(value: Any) -> Any:
    """JSON-safe form of a value, exactly as it is stored and read back."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def event_payload(event: AuditEvent) -> dict:
    """What an event's seal covers: its content, its place in its chain and the previous seal."""
    return {
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
        "prev_seal": event.prev_seal,
    }


def event_seal(event: AuditEvent) -> str:
    return keyed_digest("portal.audit.event.v1", event_payload(event))


def audit_chain_append(
    *, actor: Actor, tenant_id: int | None, changes: list[Change]
) -> list[AuditEvent]:
    """The audit writer (``portal.core.audit``): append sealed events for several changes by one
    actor to one chain, in order.

    Must run inside the transaction of the changes it records: the events commit or roll back
    with them. The chain head row is locked for the append, so concurrent writers queue up.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    if not changes:
        return []
    key = chain_key(tenant_id)
    last_sequence, last_seal = _lock_chain_head(key)
    now, request_id = timezone.now(), get_guid() or ""
    events = []
    for change in changes:
        event = AuditEvent(
            chain=key,
            sequence=last_sequence + 1,
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
            prev_seal=last_seal,
        )
        event.seal = event_seal(event)
        last_sequence, last_seal = event.sequence, event.seal
        events.append(event)
    # The database moves the chain's head as each event is inserted, and refuses an event that
    # does not extend its chain (migration 0006); the portal never writes heads itself.
    AuditEvent.objects.dangerously_across_tenants().bulk_create(events)
    return events


def _lock_chain_head(key: str) -> tuple[int, str]:
    """Lock the head of chain ``key`` until the transaction ends; its last sequence and seal."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        # The application's role may not write heads, nor lock them with FOR UPDATE: a function
        # of the tables' owner creates the head when missing and locks it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT head_sequence, head_seal FROM governance_audit_chain_lock(%s)", [key]
            )
            sequence, seal = cursor.fetchone()
            return int(sequence), seal
    # SQLite: transactions take the write lock when they begin (IMMEDIATE), so writers queue.
    head = AuditChainHead.objects.filter(chain=key).values_list("last_sequence", "last_seal")
    return head.first() or (0, "")


@dataclass
class ChainReport:
    chain: str
    events_checked: int = 0
    first_broken_sequence: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_sequence is None

    def broken(self, sequence: int, reason: str) -> ChainReport:
        self.first_broken_sequence, self.reason = sequence, reason
        return self


def _describe(event: AuditEvent) -> str:
    return f"event {event.pk} ({event.action} by {event.actor_label} at {event.created_at:%Y-%m-%d %H:%M})"


def _verify_chain(
    key: str, events: Iterable[AuditEvent], head: AuditChainHead | None, anchors: list[Anchor]
) -> ChainReport:
    report = ChainReport(chain=key)
    forged = [anchor for anchor in anchors if not anchor.signed]
    if forged:
        return report.broken(
            forged[0].sequence,
            f"the anchor file {forged[0].name} is not signed with the audit key (altered or forged)",
        )
    anchored: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        anchored.setdefault(anchor.sequence, []).append(anchor)
    expected_sequence, prev_seal = 1, ""
    for event in events:
        report.events_checked += 1
        if event.sequence != expected_sequence:
            return report.broken(
                expected_sequence,
                f"sequence {expected_sequence} is missing (found {event.sequence} next)",
            )
        if event.prev_seal != prev_seal:
            return report.broken(
                event.sequence,
                f"{_describe(event)}: its link to the previous event does not match "
                "(reordered or replaced)",
            )
        if not seals_match(event.seal, event_seal(event)):
            return report.broken(
                event.sequence,
                f"{_describe(event)}: its seal does not match its content "
                "(edited, or written by someone without the audit key)",
            )
        for anchor in anchored.get(event.sequence, ()):
            if not seals_match(event.seal, anchor.seal):
                return report.broken(
                    event.sequence,
                    f"{_describe(event)} is not the event anchored on {anchor.day} (replaced)",
                )
        expected_sequence, prev_seal = event.sequence + 1, event.seal
    last = expected_sequence - 1
    newest = max(anchors, key=lambda anchor: anchor.sequence, default=None)
    if newest is not None and newest.sequence > last:
        return report.broken(
            last + 1,
            f"the chain was anchored on {newest.day} with {newest.sequence} events but the trail "
            f"ends at {last} (events deleted from the end)",
        )
    if head is None:
        if last:
            report.broken(
                last + 1,
                "the chain head is missing (deleted), so events cut from the end since the "
                "last anchor would go unnoticed",
            )
        return report
    if head.last_sequence > last:
        return report.broken(
            last + 1,
            f"the chain head records {head.last_sequence} events but the trail ends at "
            f"{last} (events deleted from the end)",
        )
    if head.last_sequence != last or not seals_match(head.last_seal, prev_seal):
        return report.broken(
            min(head.last_sequence + 1, last),
            f"the chain head ({head.last_sequence} events) does not match the last event "
            f"({last}): the head was moved",
        )
    return report


def audit_verify(*, tenant_ids: Iterable[int | None] | None = None) -> list[ChainReport]:
    """Verify the given chains (every chain when ``tenant_ids`` is None), one report each.

    Every event's seal is checked, and each chain against its head and its anchors.
    """
    heads = {head.chain: head for head in AuditChainHead.objects.all()}
    # A cross-tenant read by design: verification must see every chain, including a tampered one.
    events = AuditEvent.objects.dangerously_across_tenants()
    if tenant_ids is None:
        anchors = anchors_read()
        keys = sorted(
            set(heads)
            | set(anchors)
            | set(events.order_by().values_list("chain", flat=True).distinct())
        )
    else:
        keys = [chain_key(tenant_id) for tenant_id in tenant_ids]
        anchors = anchors_read(keys)
    return [
        _verify_chain(
            key,
            events.filter(chain=key).order_by("sequence").iterator(2000),
            heads.get(key),
            anchors.get(key, []),
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
