"""The audit trail is append-only, chained per tenant and sealed with a key the database does not
hold; tampering, even by the database's owner, is found at its sequence number."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from itertools import pairwise
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from governance.audit import audit_verify, event_payload, event_seal
from governance.models import AuditChainHead, AuditEvent, AuditEventImmutable
from governance.seals import canonical
from portal.core.audit import audit_record
from tenants import services
from tenants.models import Tenant
from tenants.scoping import dangerously_across_tenants, tenant_scope
from tests.builders import TEST_ACTOR, client_for, make_user, sql_rows


@contextmanager
def as_owner():
    """A cursor of someone who has the database owner's password (but not the portal's key)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    # The owner works on its own connection (so these tests commit their data first; see
    # ``tampering``), and commits when the block ends.
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
        yield cursor


@contextmanager
def triggers_disabled():
    """What an attacker with the database owner's access would do first."""
    with as_owner() as cursor:
        if connection.vendor == "postgresql":
            # The application's role cannot switch triggers off; the owner can.
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER audit_event_no_update")
        yield cursor


def unkeyed_hash(event: AuditEvent) -> str:
    """A well-computed SHA-256 of an event's content and link, as the trail once was chained."""
    return hashlib.sha256(canonical(event_payload(event))).hexdigest()


# On PostgreSQL the tampering happens on another connection, which sees committed rows only.
tampering = pytest.mark.django_db(transaction=settings.USING_POSTGRES)


def chain_of(tenant: Tenant) -> list[AuditEvent]:
    with tenant_scope(tenant):
        return list(AuditEvent.objects.order_by("sequence"))


def verify_command(tenant: Tenant) -> str:
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
    assert events[0].prev_seal == ""
    for previous, event in pairwise(events):
        assert event.prev_seal == previous.seal
        assert event.seal == event_seal(event)
    assert events[-1].seal != unkeyed_hash(events[-1])  # sealed with the key, not a bare hash
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


@tampering
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE governance_auditevent SET action = 'x'",
        pytest.param("DELETE FROM governance_auditevent", marks=pytest.mark.postgres),
    ],
)
def test_the_database_refuses_to_change_or_remove_events_even_for_their_owner(company, statement):
    with (
        pytest.raises((DatabaseError, psycopg.DatabaseError), match="append-only"),
        transaction.atomic(),
        as_owner() as cursor,
    ):
        cursor.execute(statement)


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    ["UPDATE governance_auditevent SET action = 'x'", "DELETE FROM governance_auditevent"],
)
def test_the_application_role_may_not_change_or_remove_events(company, statement):
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        dangerously_across_tenants("a test tries to rewrite every chain"),
    ):
        sql_rows(statement)


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO governance_auditchainhead (chain, last_sequence, last_seal) "
        "VALUES ('tenant:999', 5, 'x')",
        "UPDATE governance_auditchainhead SET last_sequence = last_sequence + 1",
        "DELETE FROM governance_auditchainhead",
    ],
)
def test_the_application_role_may_not_write_chain_heads(company, statement):
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        sql_rows(statement)


@pytest.mark.django_db
@pytest.mark.postgres
def test_with_no_tenant_set_the_application_role_reads_no_units_events(company):
    chains = "SELECT DISTINCT chain FROM governance_auditevent"
    assert sql_rows(chains) == []
    with tenant_scope(company.a):
        assert sql_rows(chains) == [(f"tenant:{company.a.pk}",)]
    with dangerously_across_tenants("a test reads every chain"):
        every = {chain for (chain,) in sql_rows(chains)}
    assert {"platform", f"tenant:{company.a.pk}", f"tenant:{company.b.pk}"} <= every


@pytest.mark.django_db
def test_an_event_that_does_not_extend_its_chain_is_refused_by_the_database(busy_tenant):
    last = chain_of(busy_tenant)[-1]
    stray = AuditEvent(
        chain=last.chain,
        sequence=last.sequence + 2,
        tenant_id=busy_tenant.pk,
        actor_type="system",
        actor_label="x",
        action="tenant.updated",
        object_type="tenant",
        object_id=str(busy_tenant.pk),
        created_at=timezone.now(),
        prev_seal=last.seal,
    )
    stray.seal = event_seal(stray)
    with pytest.raises(DatabaseError, match="does not extend its chain"), transaction.atomic():
        AuditEvent.objects.dangerously_across_tenants().bulk_create([stray])
    assert AuditChainHead.objects.get(chain=last.chain).last_sequence == last.sequence


def insert_as_owner(cursor, event: AuditEvent) -> None:
    cursor.execute(
        "INSERT INTO governance_auditevent (chain, sequence, tenant_id, actor_type, actor_id, "
        "actor_label, action, object_type, object_id, before, after, request_id, created_at, "
        "prev_seal, seal) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            event.chain,
            event.sequence,
            event.tenant_id,
            event.actor_type,
            event.actor_id,
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            json.dumps(event.before),
            json.dumps(event.after),
            event.request_id,
            event.created_at,
            event.prev_seal,
            event.seal,
        ],
    )
    cursor.execute(
        "UPDATE governance_auditchainhead SET last_sequence = %s, last_seal = %s WHERE chain = %s",
        [event.sequence, event.seal, event.chain],
    )


@tampering
def test_a_forged_decision_appended_by_the_database_owner_is_named_by_verify(busy_tenant, company):
    last = chain_of(busy_tenant)[-1]
    forged = AuditEvent(
        chain=last.chain,
        sequence=last.sequence + 1,
        tenant_id=busy_tenant.pk,
        actor_type="user",
        actor_id=company.grace.pk,
        actor_label="grace",
        action="approval.decided",
        object_type="approval",
        object_id="1",
        after={"verdict": "approve", "comment": "looks fine"},
        request_id="",
        created_at=last.created_at + timedelta(minutes=1),
        prev_seal=last.seal,
    )
    forged.seal = unkeyed_hash(forged)
    with as_owner() as cursor:
        insert_as_owner(cursor, forged)
    output = verify_command(busy_tenant)
    assert "BROKEN at sequence 7" in output
    assert "approval.decided by grace" in output and "seal" in output


@tampering
def test_the_owner_resealing_an_edited_chain_without_the_key_is_found(busy_tenant):
    events = chain_of(busy_tenant)
    previous = events[1].seal
    with triggers_disabled() as cursor:
        for event in events[2:]:
            if event.sequence == 3:
                event.after = {"role": "owner", "user": "mallory"}
            event.prev_seal = previous
            for guess in (b"", settings.SECRET_KEY.encode()):
                event.seal = hmac.new(guess, canonical(event_payload(event)), "sha256").hexdigest()
            cursor.execute(
                "UPDATE governance_auditevent SET after = %s, prev_seal = %s, seal = %s "
                "WHERE id = %s",
                [json.dumps(event.after), event.prev_seal, event.seal, event.pk],
            )
            previous = event.seal
        cursor.execute(
            "UPDATE governance_auditchainhead SET last_seal = %s WHERE chain = %s",
            [previous, events[0].chain],
        )
    output = verify_command(busy_tenant)
    assert "BROKEN at sequence 3" in output and "seal" in output


def anchor_now() -> str:
    out = StringIO()
    call_command("anchor_audit_trail", stdout=out)
    return out.getvalue()


def anchor_files(chain: str) -> list[Path]:
    return sorted(Path(settings.AUDIT_ANCHOR_URI).glob(f"{chain.replace(':', '-')}/*.json"))


@pytest.mark.django_db
def test_the_beat_task_anchors_each_chain_for_the_day_outside_the_database(busy_tenant, company):
    from governance.tasks import anchor_audit_trail

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "governance.anchor_audit_trail" in scheduled
    written = anchor_audit_trail()
    heads = list(AuditChainHead.objects.filter(last_sequence__gt=0))
    assert written == len(heads) >= 3  # platform, A and B
    today = timezone.now().date().isoformat()
    for head in heads:
        (path,) = anchor_files(head.chain)
        anchor = json.loads(path.read_text())
        assert path.stem == today and anchor["day"] == today
        assert (anchor["chain"], anchor["sequence"], anchor["seal"]) == (
            head.chain,
            head.last_sequence,
            head.last_seal,
        )
    assert "intact" in verify_command(busy_tenant)

    # Later the same day the anchor follows the head; it never moves back.
    with tenant_scope(busy_tenant):
        services.tenant_update(actor=TEST_ACTOR, tenant=busy_tenant, name="Acme three")
    anchor_now()
    (path,) = anchor_files(f"tenant:{busy_tenant.pk}")
    assert json.loads(path.read_text())["sequence"] == 7


@pytest.fixture
def anchor_bucket(settings, monkeypatch):
    """AUDIT_ANCHOR_URI in an S3 bucket: moto's S3 server on loopback stands in for the store."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "anchors",
        "AWS_SECRET_ACCESS_KEY": "anchors-secret",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="audit", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings.AUDIT_ANCHOR_URI = "s3://audit/portal/anchors"
    try:
        yield s3
    finally:
        server.stop()


@pytest.mark.django_db
def test_anchors_kept_in_an_object_store_find_a_cut_chain_and_an_altered_anchor(
    busy_tenant, anchor_bucket
):
    chain = f"tenant:{busy_tenant.pk}"
    assert "in s3://audit/portal/anchors" in anchor_now()
    key = f"portal/anchors/tenant-{busy_tenant.pk}/{timezone.now().date().isoformat()}.json"
    anchor = json.loads(anchor_bucket.get_object(Bucket="audit", Key=key)["Body"].read())
    assert (anchor["chain"], anchor["sequence"]) == (chain, 6)
    assert "intact" in verify_command(busy_tenant)

    anchor["sequence"] = 9
    anchor_bucket.put_object(Bucket="audit", Key=key, Body=json.dumps(anchor).encode())
    output = verify_command(busy_tenant)
    assert "BROKEN" in output and "not signed with the audit key" in output


@pytest.mark.django_db
def test_an_altered_anchor_file_is_reported(busy_tenant):
    anchor_now()
    (path,) = anchor_files(f"tenant:{busy_tenant.pk}")
    anchor = json.loads(path.read_text())
    anchor["sequence"] = 9
    path.write_text(json.dumps(anchor))
    output = verify_command(busy_tenant)
    assert "BROKEN" in output and "not signed with the audit key" in output


@tampering
def test_deleting_a_chain_head_is_found(busy_tenant):
    anchor_now()
    with triggers_disabled() as cursor:
        cursor.execute(
            "DELETE FROM governance_auditchainhead WHERE chain = %s", [f"tenant:{busy_tenant.pk}"]
        )
    output = verify_command(busy_tenant)
    assert "BROKEN at sequence 7" in output and "head is missing" in output


@tampering
def test_deleting_a_head_and_the_newest_events_is_found_against_the_anchor(busy_tenant):
    chain = f"tenant:{busy_tenant.pk}"
    anchor_now()
    with triggers_disabled() as cursor:
        cursor.execute("DELETE FROM governance_auditchainhead WHERE chain = %s", [chain])
        cursor.execute(
            "DELETE FROM governance_auditevent WHERE chain = %s AND sequence >= 5", [chain]
        )
    output = verify_command(busy_tenant)
    assert "BROKEN at sequence 5" in output
    assert "anchored" in output and "6 events" in output


@tampering
def test_cutting_the_newest_events_and_moving_the_head_back_is_found_against_the_anchor(
    busy_tenant,
):
    chain = f"tenant:{busy_tenant.pk}"
    anchor_now()
    fifth = chain_of(busy_tenant)[4]
    with triggers_disabled() as cursor:
        cursor.execute(
            "DELETE FROM governance_auditevent WHERE chain = %s AND sequence = 6", [chain]
        )
        cursor.execute(
            "UPDATE governance_auditchainhead SET last_sequence = 5, last_seal = %s "
            "WHERE chain = %s",
            [fifth.seal, chain],
        )
    output = verify_command(busy_tenant)
    assert "BROKEN at sequence 6" in output and "anchored" in output


@tampering
def test_emptying_the_whole_trail_is_found_against_the_anchors(busy_tenant):
    anchor_now()
    with triggers_disabled() as cursor:
        cursor.execute("DELETE FROM governance_auditevent")
        cursor.execute("DELETE FROM governance_auditchainhead")
    reports = {report.chain: report for report in audit_verify()}
    assert not reports[f"tenant:{busy_tenant.pk}"].ok
    assert not reports["platform"].ok
    assert reports["platform"].first_broken_sequence == 1


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


class _Editor:
    """What the migration's functions use of a schema editor."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def execute(self, sql: str, params=None) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)


@tampering
def test_events_chained_before_the_key_are_resealed_once_and_an_old_break_stays_visible(company):
    from django.apps import apps

    from portal.management.commands.migrate import connected_as_owner

    migration = importlib.import_module("governance.migrations.0006_audit_events_sealed_with_a_key")
    a, b = f"tenant:{company.a.pk}", f"tenant:{company.b.pk}"
    every_event = AuditEvent.objects.dangerously_across_tenants().order_by("chain", "sequence")
    with triggers_disabled() as cursor:  # the trail as the SHA-256 chain left it
        previous = {}
        for event in every_event:
            event.prev_seal = previous.get(event.chain, "")
            event.seal = previous[event.chain] = migration.sha256_link(event)
            if event.chain == b and event.sequence == 2:
                event.after = {"role": "owner", "user": "mallory"}  # edited back then
            cursor.execute(
                "UPDATE governance_auditevent SET after = %s, prev_seal = %s, seal = %s "
                "WHERE id = %s",
                [json.dumps(event.after), event.prev_seal, event.seal, event.pk],
            )
        for chain, seal in previous.items():
            cursor.execute(
                "UPDATE governance_auditchainhead SET last_seal = %s WHERE chain = %s",
                [seal, chain],
            )
    assert not audit_verify(tenant_ids=[company.a.pk])[0].ok  # SHA-256 links are not seals

    with (
        connected_as_owner("default"),
        dangerously_across_tenants("the migration re-seals every chain"),
        transaction.atomic(),
    ):
        migration.rechain(
            apps,
            _Editor(connection),
            old_digest=migration.sha256_link,
            new_digest=migration.hmac_seal,
        )

    reports = {report.chain: report for report in audit_verify()}
    assert reports[a].ok and reports[a].events_checked == len(chain_of(company.a))
    assert reports[b].first_broken_sequence == 2 and "seal" in reports[b].reason
    assert reports["platform"].ok
    with tenant_scope(company.a):  # the trail goes on from the re-sealed head
        services.tenant_update(actor=TEST_ACTOR, tenant=company.a, name="Acme after")
    assert audit_verify(tenant_ids=[company.a.pk])[0].ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_writers_queue_on_the_chain_head_and_the_chain_stays_whole(company):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def write(worker: int) -> None:
        try:
            for step in range(5):
                with tenant_scope(company.a), transaction.atomic():
                    audit_record(
                        actor=TEST_ACTOR,
                        action="test.concurrent",
                        object_type="worker",
                        object_id=f"{worker}-{step}",
                        tenant_id=company.a.pk,
                    )
        finally:
            connections.close_all()

    before = len(chain_of(company.a))
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))  # re-raises a worker's error
    events = chain_of(company.a)
    assert [event.sequence for event in events] == list(range(1, before + 31))
    assert audit_verify(tenant_ids=[company.a.pk])[0].ok
