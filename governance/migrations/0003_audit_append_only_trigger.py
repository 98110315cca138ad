"""Refuse UPDATE and DELETE of audit events in the database itself, not only in the ORM.

On SQLite (the embedded default) only UPDATE is refused by a trigger: test databases there are
emptied with DELETE, which PostgreSQL does with TRUNCATE instead.
"""

from django.db import migrations

POSTGRES_CREATE = """
CREATE OR REPLACE FUNCTION governance_audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON governance_auditevent
    FOR EACH ROW EXECUTE FUNCTION governance_audit_event_append_only();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON governance_auditevent;
DROP FUNCTION IF EXISTS governance_audit_event_append_only();
"""
SQLITE_CREATE = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON governance_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_update;",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = (
        [POSTGRES_CREATE] if vendor == "postgresql" else SQLITE_CREATE if vendor == "sqlite" else []
    )
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = (
        [POSTGRES_DROP] if vendor == "postgresql" else SQLITE_DROP if vendor == "sqlite" else []
    )
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("governance", "0002_initial")]

    operations = [migrations.RunPython(create, drop)]
