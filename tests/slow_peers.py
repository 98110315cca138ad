"""Peers that are slow on purpose: a loopback server that sends the start of an answer, then one
byte at a time, never finishing it (it runs in a thread and stops by itself); and a look at what
the database is holding while the portal waits on one."""

from __future__ import annotations

import select
import socket
import threading
import time


def sessions_in_a_transaction() -> list[str]:
    """What the other PostgreSQL sessions on the test database run inside a transaction (a call
    to an outside peer made under a transaction shows up here as "idle in transaction")."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        return [f"{state}: {query}" for state, query in cursor.fetchall()]


HTTP_STATUS_LINE = b"HTTP/1.1 200 OK\r\nX-Trickle: "  # the headers never end
SMTP_GREETING = b"220 "  # the greeting line never ends


class TricklingServer:
    """Accepts connections on 127.0.0.1 one at a time; to each it sends ``start`` (after reading
    the request when ``reads_first``), then one byte every ``every`` seconds until the caller hangs
    up. It stops by itself after ``lasts`` seconds."""

    def __init__(
        self,
        *,
        start: bytes = HTTP_STATUS_LINE,
        reads_first: bool = True,
        every: float = 1.0,
        lasts: float = 240,
    ) -> None:
        self.start, self.reads_first, self.every, self.lasts = start, reads_first, every, lasts
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.open = threading.Event()  # a caller is connected and being trickled to
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks/slow") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        ends = time.monotonic() + self.lasts
        while not self.stopping.is_set() and time.monotonic() < ends:
            try:
                caller, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with caller:
                self._trickle(caller, ends)

    def _trickle(self, caller: socket.socket, ends: float) -> None:
        caller.settimeout(5)
        try:
            if self.reads_first:
                caller.recv(65536)  # the request (small enough for one read on loopback)
            caller.sendall(self.start)
            self.open.set()
            while not self.stopping.is_set() and time.monotonic() < ends:
                readable, _, _ = select.select([caller], [], [], self.every)
                if readable and not caller.recv(1024):
                    return  # the caller hung up
                caller.sendall(b"z")
        except OSError:
            return
        finally:
            self.open.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()
