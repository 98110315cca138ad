"""``migrate`` as the owner of the tables when ``DATABASE_MIGRATE_URL`` is set.

The application's role (``DATABASE_URL``) owns no table, so row-level security holds it; this
command connects as the owner for the migrations and the ``post_migrate`` work (row-level
security policies, content types, permissions), then grants the application's role its rights.
Without ``DATABASE_MIGRATE_URL`` it is Django's ``migrate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.commands import migrate
from django.db import connections

from tenants.row_security import grant_app_role
from tenants.scoping import dangerously_across_tenants

CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


@contextmanager
def connected_as_owner(alias: str) -> Iterator[str | None]:
    """Connect ``alias`` as the tables' owner; yields the application's role when it differs."""
    owner = settings.DATABASE_MIGRATE
    connection = connections[alias]
    if owner is None or alias != "default" or connection.settings_dict["USER"] == owner["USER"]:
        yield None
        return
    app = {key: connection.settings_dict.get(key) for key in CREDENTIALS}
    connection.close()
    connection.settings_dict.update({key: owner.get(key) for key in CREDENTIALS})
    try:
        yield app["USER"]
    finally:
        connection.close()
        connection.settings_dict.update(app)


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as DATABASE_MIGRATE_URL's role when that is set."

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        # Data migrations are platform work: they see and write every tenant's rows.
        with connected_as_owner(alias) as app_role, dangerously_across_tenants("migrate"):
            super().handle(*args, **options)
            if app_role:
                grant_app_role(connections[alias], app_role)
