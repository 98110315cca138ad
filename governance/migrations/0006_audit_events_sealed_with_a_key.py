"""Seal the audit trail with a key the database does not hold, and let only the database move heads.

- ``hash``/``prev_hash`` become ``seal``/``prev_seal`` (and the head's ``last_hash`` its
  ``last_seal``): an HMAC-SHA256 under ``AUDIT_CHAIN_KEY`` instead of a bare SHA-256.
- Events chained before (SHA-256) are re-sealed once, here, with the key: each chain is walked
  and its old links checked first; from the first event whose old hash no longer matches, events
  are left unsealed, so ``verify_audit_trail`` keeps naming that event instead of a re-seal
  hiding it. One scheme for every event, so nobody can pass a forgery off as an old-style event.
- A trigger on the events' insert moves the chain's head and refuses an event that does not
  extend its chain (next sequence, previous seal). On PostgreSQL it runs as the tables' owner
  (``SECURITY DEFINER``), as does the function that creates and locks a head for an append, so the
  application's role needs no right to write heads (``grant_app_role`` leaves it none).
"""

import hashlib
import hmac
import json
from datetime import UTC

from django.conf import settings
from django.db import migrations

POSTGRES_CREATE = """
CREATE OR REPLACE FUNCTION governance_audit_chain_lock(p_chain varchar)
RETURNS TABLE (head_sequence bigint, head_seal varchar)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO governance_auditchainhead (chain, last_sequence, last_seal)
        VALUES (p_chain, 0, '') ON CONFLICT (chain) DO NOTHING;
    RETURN QUERY SELECT h.last_sequence, h.last_seal FROM governance_auditchainhead h
        WHERE h.chain = p_chain FOR UPDATE;
END;
$$;

CREATE OR REPLACE FUNCTION governance_audit_event_extends_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head record;
BEGIN
    INSERT INTO governance_auditchainhead (chain, last_sequence, last_seal)
        VALUES (NEW.chain, 0, '') ON CONFLICT (chain) DO NOTHING;
    SELECT h.last_sequence, h.last_seal INTO head FROM governance_auditchainhead h
        WHERE h.chain = NEW.chain FOR UPDATE;
    IF NEW.sequence <> head.last_sequence + 1 OR NEW.prev_seal <> head.last_seal THEN
        RAISE EXCEPTION 'audit event %#% does not extend its chain (its head is at %)',
            NEW.chain, NEW.sequence, head.last_sequence
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    UPDATE governance_auditchainhead SET last_sequence = NEW.sequence, last_seal = NEW.seal
        WHERE chain = NEW.chain;
    RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION governance_audit_event_extends_chain() FROM PUBLIC;

CREATE TRIGGER audit_event_extends_chain
    BEFORE INSERT ON governance_auditevent
    FOR EACH ROW EXECUTE FUNCTION governance_audit_event_extends_chain();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS audit_event_extends_chain ON governance_auditevent;
DROP FUNCTION IF EXISTS governance_audit_event_extends_chain();
DROP FUNCTION IF EXISTS governance_audit_chain_lock(varchar);
"""
SQLITE_CREATE = [
    """CREATE TRIGGER audit_event_extends_chain BEFORE INSERT ON governance_auditevent
       WHEN NEW.sequence <> COALESCE(
               (SELECT last_sequence FROM governance_auditchainhead WHERE chain = NEW.chain), 0) + 1
         OR NEW.prev_seal <> COALESCE(
               (SELECT last_seal FROM governance_auditchainhead WHERE chain = NEW.chain), '')
       BEGIN SELECT RAISE(ABORT, 'audit event does not extend its chain'); END;""",
    """CREATE TRIGGER audit_event_moves_head AFTER INSERT ON governance_auditevent
       BEGIN
           INSERT OR IGNORE INTO governance_auditchainhead (chain, last_sequence, last_seal)
               VALUES (NEW.chain, 0, '');
           UPDATE governance_auditchainhead SET last_sequence = NEW.sequence, last_seal = NEW.seal
               WHERE chain = NEW.chain;
       END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_extends_chain;",
    "DROP TRIGGER IF EXISTS audit_event_moves_head;",
]
# The append-only trigger of 0003, lifted while this migration rewrites the links.
APPEND_ONLY = {
    "postgresql": (
        "ALTER TABLE governance_auditevent DISABLE TRIGGER audit_event_append_only",
        "ALTER TABLE governance_auditevent ENABLE TRIGGER audit_event_append_only",
    ),
    "sqlite": (
        "DROP TRIGGER IF EXISTS audit_event_no_update",
        """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON governance_auditevent
           BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;""",
    ),
}


def _payload(event, link_key: str) -> dict:
    """An event's content and its link to the previous one, under ``link_key`` (frozen here)."""
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
        link_key: event.prev_seal,
    }


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_link(event) -> str:
    """The bare SHA-256 the trail was chained with before."""
    return hashlib.sha256(_canonical(_payload(event, "prev_hash"))).hexdigest()


def hmac_seal(event) -> str:
    """The v1 seal, as governance.audit.event_seal computes it today (frozen here, so a later
    scheme never changes what this migration wrote or checks)."""
    message = b"portal.audit.event.v1\n" + _canonical(_payload(event, "prev_seal"))
    return hmac.new(settings.AUDIT_CHAIN_KEY.encode(), message, hashlib.sha256).hexdigest()


def rechain(apps, schema_editor, *, old_digest, new_digest) -> None:
    """Re-link every chain with ``new_digest`` as far as its links under ``old_digest`` hold."""
    event_model = apps.get_model("governance", "AuditEvent")
    head_model = apps.get_model("governance", "AuditChainHead")
    events = event_model._base_manager.using(schema_editor.connection.alias)
    lift, restore = APPEND_ONLY.get(schema_editor.connection.vendor, (None, None))
    if lift:
        schema_editor.execute(lift, params=None)
    chains = events.order_by().values_list("chain", flat=True).distinct()
    for chain in list(chains):
        expected, old_prev, new_prev, intact, batch = 1, "", "", True, []
        for event in events.filter(chain=chain).order_by("sequence").iterator(2000):
            intact = (
                intact
                and event.sequence == expected
                and event.prev_seal == old_prev
                and old_digest(event) == event.seal
            )
            expected, old_prev = event.sequence + 1, event.seal
            event.prev_seal = new_prev
            # From the first broken link on, events stay unsealed: verification names the first.
            event.seal = new_digest(event) if intact else ""
            new_prev = event.seal
            batch.append(event)
            if len(batch) == 1000:
                events.bulk_update(batch, ["prev_seal", "seal"])
                batch = []
        events.bulk_update(batch, ["prev_seal", "seal"])
        head_model._base_manager.using(schema_editor.connection.alias).filter(chain=chain).update(
            last_seal=new_prev
        )
    if restore:
        schema_editor.execute(restore, params=None)


def seal(apps, schema_editor) -> None:
    rechain(apps, schema_editor, old_digest=sha256_link, new_digest=hmac_seal)
    vendor = schema_editor.connection.vendor
    statements = (
        [POSTGRES_CREATE] if vendor == "postgresql" else SQLITE_CREATE if vendor == "sqlite" else []
    )
    for statement in statements:
        schema_editor.execute(statement, params=None)


def unseal(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = (
        [POSTGRES_DROP] if vendor == "postgresql" else SQLITE_DROP if vendor == "sqlite" else []
    )
    for statement in statements:
        schema_editor.execute(statement, params=None)
    rechain(apps, schema_editor, old_digest=hmac_seal, new_digest=sha256_link)


class Migration(migrations.Migration):
    dependencies = [("governance", "0005_approval_purpose")]

    operations = [
        migrations.RenameField("auditevent", "prev_hash", "prev_seal"),
        migrations.RenameField("auditevent", "hash", "seal"),
        migrations.RenameField("auditchainhead", "last_hash", "last_seal"),
        migrations.RunPython(seal, unseal),
    ]
