"""The audit trail is append-only, chained per tenant, and tampering is found at its sequence."""

from __future__ import annotations

from contextlib import contextmanager
from itertools import pairwise

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from conftest import TEST_ACTOR, client_for, make_user
from governance.audit import audit_record, audit_verify, event_hash
from governance.models import AuditEvent, AuditEventImmutable
from tenants import services
from tenants.models import Tenant
from tenants.scoping import tenant_scope


@contextmanager
def triggers_disabled():
    """What an attacker with the database owner's access would do first."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER audit_event_no_update")
            yield cursor
        return
    # The application's role cannot switch triggers off: the owner does it on its own connection
    # (so these tests commit their data first; see ``tampering``).
    database = connection.settings_dict
    owner = settings.DATABASE_MIGRATE or database
    with (
        psycopg.connect(
            dbname=database["NAME"],
            user=owner["USER"],
            password=owner.get("PASSWORD") or None,
            host=owner.get("HOST") or None,
            port=owner.get("PORT") or None,
        ) as attacker,
        attacker.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL session_replication_role = replica")
        yield cursor


# On PostgreSQL the tampering happens on another connection, which sees committed rows only.
tampering = pytest.mark.django_db(transaction=settings.USING_POSTGRES)


def chain_of(tenant: Tenant) -> list[AuditEvent]:
    with tenant_scope(tenant):
        return list(AuditEvent.objects.order_by("sequence"))


def verify_command(tenant: Tenant) -> str:
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit_trail", tenant=tenant.slug, stdout=out)
    except CommandError as error:
        assert error.returncode == 1
        return out.getvalue() + str(error)
    return out.getvalue()


@pytest.fixture
def busy_tenant(company) -> Tenant:
    """Tenant A with a few more events: six in all."""
    with tenant_scope(company.a):
        for name in ("one", "two"):
            services.tenant_update(actor=TEST_ACTOR, tenant=company.a, name=f"Acme {name}")
    assert [e.sequence for e in chain_of(company.a)] == [1, 2, 3, 4, 5, 6]
    return company.a


@pytest.mark.django_db
def test_each_change_appends_one_event_linked_to_the_previous_one(busy_tenant):
    events = chain_of(busy_tenant)
    assert events[0].prev_hash == ""
    for previous, event in pairwise(events):
        assert event.prev_hash == previous.hash
        assert event.hash == event_hash(event)
    assert events[-1].before == {"name": "Acme one"} and events[-1].after == {"name": "Acme two"}


@pytest.mark.django_db
def test_an_intact_trail_verifies_and_the_command_exits_zero(busy_tenant):
    assert "intact (6 events)" in verify_command(busy_tenant)
    call_command("verify_audit_trail")  # every chain, no error


@tampering
def test_an_edited_event_is_found_at_its_sequence_number(busy_tenant):
    with triggers_disabled() as cursor:
        cursor.execute(
            "UPDATE governance_auditevent SET after = %s WHERE chain = %s AND sequence = 4",
            ['{"role": "owner", "user": "mallory"}', f"tenant:{busy_tenant.pk}"],
        )
    output = verify_command(busy_tenant)
    assert "BROKEN at sequence 4" in output and "edited" in output


@tampering
def test_a_deleted_event_is_found_at_its_sequence_number(busy_tenant):
    with triggers_disabled() as cursor:
        cursor.execute(
            "DELETE FROM governance_auditevent WHERE chain = %s AND sequence = 3",
            [f"tenant:{busy_tenant.pk}"],
        )
    assert "BROKEN at sequence 3" in verify_command(busy_tenant)


@tampering
def test_deleting_the_newest_events_is_found_too(busy_tenant):
    with triggers_disabled() as cursor:
        cursor.execute(
            "DELETE FROM governance_auditevent WHERE chain = %s AND sequence >= 5",
            [f"tenant:{busy_tenant.pk}"],
        )
    assert "BROKEN at sequence 5" in verify_command(busy_tenant)


@tampering
def test_reordered_events_are_found_at_the_first_moved_sequence_number(busy_tenant):
    chain = f"tenant:{busy_tenant.pk}"
    with triggers_disabled() as cursor:
        cursor.execute(
            "UPDATE governance_auditevent SET sequence = 1000 WHERE chain = %s AND sequence = 2",
            [chain],
        )
        cursor.execute(
            "UPDATE governance_auditevent SET sequence = 2 WHERE chain = %s AND sequence = 5",
            [chain],
        )
        cursor.execute(
            "UPDATE governance_auditevent SET sequence = 5 WHERE chain = %s AND sequence = 1000",
            [chain],
        )
    assert "BROKEN at sequence 2" in verify_command(busy_tenant)


@tampering
def test_other_tenants_chains_stay_intact_when_one_is_tampered_with(busy_tenant, company):
    with triggers_disabled() as cursor:
        cursor.execute(
            "UPDATE governance_auditevent SET actor_label = 'x' WHERE chain = %s",
            [f"tenant:{busy_tenant.pk}"],
        )
    reports = {r.chain: r for r in audit_verify()}
    assert not reports[f"tenant:{busy_tenant.pk}"].ok
    assert reports[f"tenant:{company.b.pk}"].ok
    assert reports["platform"].ok


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_audit_event(company):
    before = len(chain_of(company.a))
    with pytest.raises(RuntimeError), transaction.atomic(), tenant_scope(company.a):
        services.tenant_update(actor=TEST_ACTOR, tenant=company.a, name="Never happened")
        raise RuntimeError("the change fails after its audit event was written")
    assert len(chain_of(company.a)) == before
    company.a.refresh_from_db()
    assert company.a.name == "Acme Retail"
    assert audit_verify(tenant_ids=[company.a.pk])[0].ok


@pytest.mark.django_db
def test_the_model_and_queryset_refuse_to_change_or_remove_events(company):
    event = chain_of(company.a)[0]
    event.action = "tenant.nothing"
    with pytest.raises(AuditEventImmutable):
        event.save()
    with pytest.raises(AuditEventImmutable):
        event.delete()
    with tenant_scope(company.a), pytest.raises(AuditEventImmutable):
        AuditEvent.objects.all().update(action="x")
    with tenant_scope(company.a), pytest.raises(AuditEventImmutable):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE governance_auditevent SET action = 'x'",
        pytest.param("DELETE FROM governance_auditevent", marks=pytest.mark.postgres),
    ],
)
def test_the_database_refuses_to_change_or_remove_events(company, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_postgres_trigger_refuses_even_the_table_owner(company):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'governance_auditevent'::regclass AND NOT tgisinternal"
        )
        assert cursor.fetchall() == [("audit_event_append_only",)]
    with (
        pytest.raises(DatabaseError, match="UPDATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE governance_auditevent SET actor_label = 'x' WHERE sequence = 1")


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction(company):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=TEST_ACTOR, action="x", object_type="y", object_id=1, tenant_id=None)


@pytest.mark.django_db
def test_a_platform_role_grant_lands_in_the_platform_chain(company):
    make_user("newcomer", platform_role="finance")
    event = (
        AuditEvent.objects.dangerously_across_tenants()
        .filter(chain="platform")
        .order_by("-sequence")
        .first()
    )
    assert (event.action, event.after, event.tenant_id) == (
        "user.platform_role_changed",
        {"platform_role": "finance"},
        None,
    )


@pytest.mark.django_db
def test_api_changes_record_who_and_which_request(company):
    client_for(company.adam).patch(
        f"/api/v1/tenants/{company.a.slug}/",
        {"name": "Acme"},
        format="json",
        HTTP_X_REQUEST_ID="req-12345678",
    )
    event = chain_of(company.a)[-1]
    assert (event.actor_type, event.actor_label, event.actor_id) == (
        "user",
        "adam",
        company.adam.pk,
    )
    assert event.request_id == "req-12345678"
