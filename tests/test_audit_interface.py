"""Apps record audit events through ``portal.core.audit``; governance supplies the writer when the
apps are ready, and without one nothing is recorded."""

from __future__ import annotations

import pytest
from django.db import transaction

from governance.audit import audit_chain_append
from portal.core import audit
from portal.core.audit import Actor, AuditWriterMissing, audit_record


def test_governance_registers_the_audit_writer_when_the_apps_are_ready():
    assert audit._writer is audit_chain_append


def test_recording_without_a_registered_writer_is_refused(monkeypatch):
    monkeypatch.setattr(audit, "_writer", None)
    with pytest.raises(AuditWriterMissing, match="No audit writer is registered"):
        audit_record(
            actor=Actor.system("test"), action="x", object_type="y", object_id=1, tenant_id=None
        )


@pytest.mark.django_db
def test_the_writer_gets_the_change_and_its_events_are_returned(monkeypatch):
    written = []

    def writer(*, actor, tenant_id, changes):
        written.append((actor, tenant_id, changes))
        return ["event"]

    monkeypatch.setattr(audit, "_writer", writer)
    with transaction.atomic():
        event = audit_record(
            actor=Actor.system("test"),
            action="thing.changed",
            object_type="thing",
            object_id=7,
            tenant_id=None,
            before={"a": 1},
            after={"a": 2},
        )
    assert event == "event"
    [(actor, tenant_id, [change])] = written
    assert (actor, tenant_id) == (Actor.system("test"), None)
    assert (change.action, change.object_id, change.before, change.after) == (
        "thing.changed",
        7,
        {"a": 1},
        {"a": 2},
    )
