"""Benchmarks against named peers; run with ``make bench``, never part of ``make test``."""

import socket


def postgres_reachable() -> bool:
    """Whether PostgreSQL answers on 127.0.0.1:5432, where every benchmark puts its database."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return True
    except OSError:
        return False
