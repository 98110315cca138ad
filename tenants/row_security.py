"""PostgreSQL row-level security: the second wall behind ``tenants.scoping``.

Every table of a ``TenantOwnedModel`` has row-level security enabled and forced, and one policy:
a row is visible and writable when its ``tenant_id`` is the connection's ``portal.tenant_id``, or
when ``portal.cross_tenant`` is ``on``. With neither set, a query sees no rows and writes none.
``post_migrate`` installs the policies, so the tables of a new app are covered by its first
migration; a table that has them already is left alone (so roles that do not own the tables can
run ``flush``).

The settings follow the Python side: before each statement, an execute wrapper compares the
current ``tenant_scope`` and cross-tenant flag with what the connection has in effect and, only
when they differ, sends one ``set_config`` for both:

- inside a transaction, ``set_config(..., true)``: the values end with the transaction;
- in autocommit mode every statement is a transaction of its own, so a transaction-local value
  would be gone before the statement runs; there the values are set for the session
  (``set_config(..., false)``), and changed again before the next statement that needs others.

What is in effect is tracked per connection. A value set inside a transaction is forgotten when
that transaction ends (the next statement finds the connection idle) or is rolled back to a
savepoint, and the connection falls back to its session value. Because every statement is
compared with the scope of the code that runs it, a reused connection (persistent connections,
a worker's next task) never runs a statement with the previous scope's values.

Consequences: statements sent with the raw driver cursor (``cursor.cursor``) bypass the wrapper,
and ``COPY FROM`` is refused on these tables by PostgreSQL; write through the ORM or a cursor.
A transaction-pooling PgBouncer would split the session values from their statements; use
session pooling, or none.

The application connects as a role that is neither superuser nor owner of the tables nor
``BYPASSRLS`` (those bypass the policies); ``migrate`` runs as the owner (``DATABASE_MIGRATE_URL``)
and grants the application's role what it needs (``grant_app_role``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import AppConfig, apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from psycopg.pq import TransactionStatus

from tenants.scoping import (
    TenantOwnedModel,
    TenantScopedManager,
    across_tenants_active,
    scoped_tenant_id,
)

_IDLE, _INERROR = TransactionStatus.IDLE, TransactionStatus.INERROR

TENANT_SETTING = "portal.tenant_id"
CROSS_TENANT_SETTING = "portal.cross_tenant"
POLICY_NAME = "portal_tenant_isolation"
POLICY_PREFIX = "portal_tenant"

_SET_SQL = (
    f"SELECT set_config('{TENANT_SETTING}', %s, %s), set_config('{CROSS_TENANT_SETTING}', %s, %s)"
)


def policy_expression(column: str) -> str:
    # An unset custom setting reads as NULL, one reset at the end of a transaction as '':
    # both mean "no tenant" and match no row.
    return (
        f"{column} = NULLIF(current_setting('{TENANT_SETTING}', true), '')::bigint "
        f"OR current_setting('{CROSS_TENANT_SETTING}', true) = 'on'"
    )


# --- Which tables ---------------------------------------------------------------------------------


def tenant_owned_models(app_configs: Iterable[AppConfig] | None = None) -> list[type[Any]]:
    """Every concrete model with a table of its own whose rows belong to one tenant.

    That is every ``TenantOwnedModel``, and every model whose default manager is tenant-scoped
    (the audit trail, whose platform-wide rows have no tenant: only cross-tenant work sees them).
    """
    configs = apps.get_app_configs() if app_configs is None else app_configs
    return [
        model
        for config in configs
        for model in config.get_models()
        if (
            issubclass(model, TenantOwnedModel)
            or isinstance(model._default_manager, TenantScopedManager)
        )
        and not model._meta.proxy
        and model._meta.managed
        and not model._meta.swapped
    ]


def tenant_column(model: type[Any]) -> str:
    return model._meta.get_field("tenant").column


# --- Policies ---------------------------------------------------------------------------------


def _table_state(cursor: Any, table: str) -> tuple[bool, bool, set[str]] | None:
    """(enabled, forced, policy names) of ``table``, or ``None`` when it does not exist."""
    cursor.execute(
        "SELECT c.relrowsecurity, c.relforcerowsecurity, "
        "ARRAY(SELECT p.polname FROM pg_policy p WHERE p.polrelid = c.oid) "
        "FROM pg_class c WHERE c.oid = to_regclass(%s)",
        [table],
    )
    row = cursor.fetchone()
    return None if row is None else (row[0], row[1], set(row[2]))


def ensure_row_level_security(connection: BaseDatabaseWrapper, models: Iterable[type[Any]]) -> None:
    """Enable and force row-level security with the tenant policy on the tables of ``models``.

    Idempotent: statements are sent only for what is missing, so a role that does not own the
    tables may call it once everything is in place. Tables not created yet are skipped.
    """
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            state = _table_state(cursor, quote(table))
            if state is None:
                continue
            enabled, forced, policies = state
            if not enabled:
                cursor.execute(f"ALTER TABLE {quote(table)} ENABLE ROW LEVEL SECURITY")
            if not forced:
                cursor.execute(f"ALTER TABLE {quote(table)} FORCE ROW LEVEL SECURITY")
            for stale in sorted(p for p in policies if p.startswith(POLICY_PREFIX)):
                if stale != POLICY_NAME:
                    cursor.execute(f"DROP POLICY {quote(stale)} ON {quote(table)}")
            if POLICY_NAME not in policies:
                expression = policy_expression(quote(tenant_column(model)))
                cursor.execute(
                    f"CREATE POLICY {quote(POLICY_NAME)} ON {quote(table)} "
                    f"USING ({expression}) WITH CHECK ({expression})"
                )


def install_policies_after_migrate(
    sender: AppConfig, using: str = "default", **kwargs: Any
) -> None:
    """``post_migrate`` receiver: the tenant policy on each tenant-owned table of ``sender``."""
    from django.db import connections

    models = tenant_owned_models([sender])
    if models:
        ensure_row_level_security(connections[using], models)


def narrowed_app_role_rights() -> dict[str, tuple[str, ...]]:
    """Tables the application's role gets fewer rights on, by their models' ``app_role_rights``
    (the audit trail, which it may only append to)."""
    narrowed = {}
    for model in apps.get_models():
        rights = getattr(model, "app_role_rights", None)
        if rights is not None:
            narrowed[model._meta.db_table] = tuple(rights)
    return narrowed


def grant_app_role(connection: BaseDatabaseWrapper, role: str, *, truncate: bool = False) -> None:
    """Let ``role`` read and write every table of the schema, now and after later migrations,
    except the tables of ``narrowed_app_role_rights``, where it gets only the rights named there.

    ``truncate`` is for test databases, whose flush empties tables with TRUNCATE.
    """
    quote = connection.ops.quote_name
    table_rights = "SELECT, INSERT, UPDATE, DELETE" + (", TRUNCATE" if truncate else "")
    sequence_rights = "USAGE, SELECT" + (", UPDATE" if truncate else "")
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quote(role)}")
        cursor.execute(f"GRANT {table_rights} ON ALL TABLES IN SCHEMA public TO {quote(role)}")
        cursor.execute(
            f"GRANT {sequence_rights} ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}"
        )
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {table_rights} ON TABLES "
            f"TO {quote(role)}"
        )
        cursor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {sequence_rights} ON SEQUENCES "
            f"TO {quote(role)}"
        )
        for table, rights in narrowed_app_role_rights().items():
            if _table_state(cursor, quote(table)) is None:
                continue
            granted = ", ".join([*rights, *(["TRUNCATE"] if truncate else [])])
            cursor.execute(f"REVOKE ALL ON {quote(table)} FROM {quote(role)}")
            cursor.execute(f"GRANT {granted} ON {quote(table)} TO {quote(role)}")


# --- The settings of each statement ---------------------------------------------------------------

_UNKNOWN = ("?", "?")  # matches no wanted value, so the next statement sets its own


class _ConnectionSettings:
    """What one database connection has in effect, and what its session level holds."""

    __slots__ = ("effective", "local_changed", "session")

    def __init__(self) -> None:
        # A new connection: nothing set, which reads as no tenant and no cross-tenant flag.
        self.session = ("", "")
        self.effective = ("", "")
        self.local_changed = False


def _wanted() -> tuple[str, str]:
    tenant_id = scoped_tenant_id()
    return ("" if tenant_id is None else str(tenant_id), "on" if across_tenants_active() else "")


def apply_tenant_settings(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """Execute wrapper: the statement runs with the current scope's settings in effect."""
    database = context["connection"]
    state: _ConnectionSettings = database._portal_row_security
    raw = database.connection
    status = raw.info.transaction_status
    if status == _IDLE and state.local_changed:
        # The transaction that set values locally has ended; its values went with it.
        state.effective = state.session
        state.local_changed = False
    wanted = _wanted()
    if wanted != state.effective and status != _INERROR:
        # Inside a transaction (begun, or about to be by this statement) the values are local.
        local = status != _IDLE or not raw.autocommit
        # As Django's own statements: a lost connection is Django's OperationalError (a 503).
        with database.wrap_database_errors, raw.cursor() as cursor:
            cursor.execute(_SET_SQL, [wanted[0], local, wanted[1], local])
        state.effective = wanted
        if local:
            state.local_changed = True
        else:
            state.session = wanted
    try:
        return execute(sql, params, many, context)
    finally:
        if isinstance(sql, str) and sql[:8].upper() == "ROLLBACK":
            # A rollback to a savepoint undoes what was set after it; the next statement sets
            # its values again.
            state.effective = _UNKNOWN
            state.local_changed = True


def install_on_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: track and apply the settings on PostgreSQL connections."""
    if connection.vendor != "postgresql":
        return
    connection._portal_row_security = _ConnectionSettings()  # type: ignore[attr-defined]
    if apply_tenant_settings not in connection.execute_wrappers:
        # First in the list: the innermost wrapper, right next to the statement.
        connection.execute_wrappers.insert(0, apply_tenant_settings)


def connect_signals() -> None:
    from django.db.models.signals import post_migrate

    connection_created.connect(install_on_connection, dispatch_uid="tenants.row_security")
    post_migrate.connect(install_policies_after_migrate, dispatch_uid="tenants.row_security")
