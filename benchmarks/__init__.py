"""Benchmarks against named peers; run with ``make bench``, never part of ``make test``."""

import contextlib
import os
import secrets
import socket
from pathlib import Path

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_ROLE = "portal_app"
APP_PASSWORD = os.environ.get("PORTAL_TEST_APP_PASSWORD", "portal_app")


def postgres_reachable() -> bool:
    """Whether PostgreSQL answers on 127.0.0.1:5432, where every benchmark puts its database."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return True
    except OSError:
        return False


def production_env(folder: Path) -> dict[str, str]:
    """The settings a benchmark's portal process runs with: production's, on loopback, with its
    files under ``folder``."""
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "false",
        "PORTAL_VAR_DIR": str(folder),
    }


def fresh_database(name: str) -> None:
    """The bench database ``name``, owned by postgres and made again, and the application's role
    (no owner, no superuser, no BYPASSRLS, as bin/run-tests and docker/postgres-init make it)."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            # Another run may create it just now.
            with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                        "PASSWORD {}"
                    ).format(sql.Identifier(APP_ROLE), sql.Literal(APP_PASSWORD))
                )
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
