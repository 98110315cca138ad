"""PostgreSQL row-level security, the second wall: the database itself hides other tenants' rows.

These tests bypass the app's scoping on purpose (raw SQL, the base manager) to show that the
database refuses what the app would have refused.
"""

from __future__ import annotations

import logging

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from tenants.models import Membership
from tenants.row_security import POLICY_NAME, tenant_column, tenant_owned_models
from tenants.scoping import dangerously_across_tenants, tenant_scope
from tests.builders import sql_rows

pytestmark = pytest.mark.postgres

MEMBERSHIPS = connection.ops.quote_name(Membership._meta.db_table)


def tenants_seen() -> set[int]:
    return {tenant_id for (tenant_id,) in sql_rows(f"SELECT tenant_id FROM {MEMBERSHIPS}")}  # noqa: S608 (the model's table)


@pytest.mark.django_db
def test_the_application_connects_as_a_role_that_row_level_security_holds():
    ((user, superuser, bypass),) = sql_rows(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert not superuser, f"{user} is a superuser; superusers bypass row-level security"
    assert not bypass, f"{user} has BYPASSRLS"
    owned = sql_rows(
        "SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles "
        "WHERE rolname = current_user) AND relkind = 'r' AND relnamespace = 'public'::regnamespace"
    )
    assert owned == [], f"{user} owns tables; migrations must run as the owner"


@pytest.mark.django_db
def test_every_tenant_owned_table_forces_row_level_security_under_the_tenant_policy():
    models = tenant_owned_models()
    assert len(models) > 20  # every app's tenant-owned models, not an empty list by mistake
    missing = []
    for model in models:
        table = model._meta.db_table
        rows = sql_rows(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check "
            "FROM pg_class c LEFT JOIN pg_policies p "
            "ON p.tablename = c.relname AND p.schemaname = 'public' AND p.policyname = %s "
            "WHERE c.oid = to_regclass(%s)",
            [POLICY_NAME, connection.ops.quote_name(table)],
        )
        if not rows:
            missing.append(f"{table}: no such table")
            continue
        ((enabled, forced, using, check),) = rows
        column = tenant_column(model)
        if not (enabled and forced):
            missing.append(f"{table}: row-level security not enabled and forced")
        elif not using or "portal.tenant_id" not in using or column not in using:
            missing.append(f"{table}: no {POLICY_NAME} policy on {column}")
        elif check != using:
            missing.append(f"{table}: the policy's WITH CHECK differs from its USING")
    assert missing == []


@pytest.mark.django_db
def test_sql_with_no_tenant_set_sees_no_rows(company):
    assert Membership.objects.dangerously_across_tenants().count() == 5
    assert tenants_seen() == set()
    assert list(Membership._base_manager.all()) == []


@pytest.mark.django_db
def test_with_tenant_a_set_rows_of_b_are_invisible_even_to_raw_sql(company):
    with tenant_scope(company.a):
        assert tenants_seen() == {company.a.pk}
        raw = Membership.objects.raw(f"SELECT * FROM {MEMBERSHIPS}")  # noqa: S608 (the model's table)
        assert {row.tenant_id for row in raw} == {company.a.pk}
        assert {row.tenant_id for row in Membership._base_manager.all()} == {company.a.pk}
        updated = sql_rows(
            f"UPDATE {MEMBERSHIPS} SET role = role WHERE tenant_id = %s RETURNING id",  # noqa: S608 (the model's table)
            [company.b.pk],
        )
        assert updated == []


@pytest.mark.django_db
def test_writing_a_row_of_b_while_a_is_set_is_refused(company):
    with tenant_scope(company.a):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            sql_rows(
                f"INSERT INTO {MEMBERSHIPS} (tenant_id, user_id, role, created_at) "  # noqa: S608 (the model's table)
                "VALUES (%s, %s, 'owner', now()) RETURNING id",
                [company.b.pk, company.alice.pk],
            )
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            sql_rows(
                f"UPDATE {MEMBERSHIPS} SET tenant_id = %s WHERE tenant_id = %s RETURNING id",  # noqa: S608 (the model's table)
                [company.b.pk, company.a.pk],
            )
        assert tenants_seen() == {company.a.pk}


@pytest.mark.django_db
def test_cross_tenant_reads_go_only_through_the_explicit_logged_path(company, caplog):
    both = {company.a.pk, company.b.pk}
    caplog.set_level(logging.DEBUG, logger="portal.cross_tenant")

    queryset = Membership.objects.dangerously_across_tenants()
    assert {row.tenant_id for row in queryset} == both
    assert set(queryset.values_list("tenant_id", flat=True).iterator()) == both
    assert tenants_seen() == set()  # the flag went with the queryset's query

    with dangerously_across_tenants("a test reads every tenant's members"):
        assert tenants_seen() == both
    assert tenants_seen() == set()

    with tenant_scope(company.a):
        assert queryset.filter(tenant=company.b).exists()
        assert tenants_seen() == {company.a.pk}

    logged = [record.getMessage() for record in caplog.records]
    assert any("tenants.Membership" in line and __file__ in line for line in logged)
    assert any("a test reads every tenant's members" in line for line in logged)


@pytest.mark.django_db
def test_a_savepoint_rolled_back_does_not_leave_the_database_in_the_wrong_scope(company):
    with tenant_scope(company.a):
        assert tenants_seen() == {company.a.pk}
        with pytest.raises(RuntimeError), transaction.atomic():
            with dangerously_across_tenants("a test"):
                assert tenants_seen() == {company.a.pk, company.b.pk}
            raise RuntimeError("roll back")
        assert tenants_seen() == {company.a.pk}
    assert tenants_seen() == set()


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_scope_never_outlives_its_block_on_the_connection(company):
    assert connection.get_autocommit()
    for _request in range(2):
        with tenant_scope(company.a):
            assert tenants_seen() == {company.a.pk}
        assert tenants_seen() == set()  # the next request on this connection, before its scope
        with tenant_scope(company.b):
            assert tenants_seen() == {company.b.pk}
            with transaction.atomic():
                assert tenants_seen() == {company.b.pk}
            with transaction.atomic(), dangerously_across_tenants("a test"):
                assert tenants_seen() == {company.a.pk, company.b.pk}
            assert tenants_seen() == {company.b.pk}
    assert tenants_seen() == set()


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_setting_the_tenant_is_a_database_error_answered_with_a_503(
    company,
):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    owner = settings.DATABASE_MIGRATE or settings.DATABASES["default"]
    admin = f"postgresql://{owner['USER']}@{owner['HOST']}:{owner['PORT']}/postgres"
    with psycopg.connect(admin, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        # The first statement in the unit's scope sets the tenant first, on the lost connection.
        with tenant_scope(company.a), pytest.raises(OperationalError):
            Membership.objects.count()
    finally:
        connection.close()
