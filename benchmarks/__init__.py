"""Benchmarks against named peers; run with ``make bench``, never part of ``make test``."""

import secrets
import socket
from pathlib import Path


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
