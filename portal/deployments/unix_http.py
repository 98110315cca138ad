"""HTTP to local model servers over their Unix sockets, with urllib3's keep-alive pools.

A local model server listens on a Unix socket in its own folder, never on a TCP port, and answers
only requests that carry its secret (``modelserver/scoring_guard.py``). ``UnixPools`` keeps one
``urllib3`` connection pool per socket, so the gateway keeps its pooled keep-alive connections;
a socket nobody listens on any more raises urllib3's ``NewConnectionError``, as a closed TCP port
does.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from portal.deployments.modelserver.scoring_guard import SECRET_HEADER

__all__ = ["SECRET_HEADER", "UnixPools", "read_secret", "secret_path"]


def secret_path(socket_path: str | Path) -> Path:
    """Where the secret of the server listening on ``socket_path`` is kept: beside its socket's
    folder (``SERVING_DIR/run/<id>/secret``), outside what its sandbox sees."""
    return Path(socket_path).parent.parent / "secret"


def read_secret(socket_path: str | Path) -> str:
    """The secret of the server at ``socket_path``; ``OSError`` when it has none (stopped)."""
    return secret_path(socket_path).read_text().strip()


class UnixHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, socket_path: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.socket_path = socket_path

    def _new_conn(self) -> socket.socket:
        # The socket's folder is the one place a sandboxed server writes to: what is there must be
        # the socket itself, never a link its model's code put in its place.
        try:
            is_socket = stat.S_ISSOCK(os.lstat(self.socket_path).st_mode)
        except OSError as error:
            raise NewConnectionError(
                self, f"Failed to connect to {self.socket_path}: {error}"
            ) from error
        if not is_socket:
            raise NewConnectionError(self, f"{self.socket_path} is not a Unix socket.")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not _DEFAULT_TIMEOUT:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as error:
            sock.close()
            raise NewConnectionError(
                self, f"Failed to connect to {self.socket_path}: {error}"
            ) from error
        return sock


class UnixHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = UnixHTTPConnection  # type: ignore[assignment]

    def __init__(self, socket_path: str, **kwargs: Any) -> None:
        super().__init__("localhost", socket_path=socket_path, **kwargs)
        self.socket_path = socket_path

    def __str__(self) -> str:
        return f"{type(self).__name__}(socket_path={self.socket_path})"


class UnixPools:
    """Connection pools by socket path; beyond ``num_pools`` sockets the oldest pool is closed."""

    def __init__(self, *, num_pools: int = 64, **pool_options: Any) -> None:
        self.num_pools = num_pools
        self.pool_options = pool_options
        self._pools: OrderedDict[str, UnixHTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def pool(self, socket_path: str) -> UnixHTTPConnectionPool:
        found = self._pools.get(socket_path)
        if found is not None:
            return found
        with self._lock:
            found = self._pools.get(socket_path)
            if found is None:
                found = self._pools[socket_path] = UnixHTTPConnectionPool(
                    socket_path, **self.pool_options
                )
                while len(self._pools) > self.num_pools:
                    self._pools.popitem(last=False)[1].close()
            return found

    def request(
        self,
        method: str,
        socket_path: str,
        path: str,
        *,
        secret: str,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> urllib3.BaseHTTPResponse:
        """``method path`` on the server at ``socket_path``, presenting its ``secret``."""
        sent = {**(headers or {}), SECRET_HEADER: secret}
        return self.pool(socket_path).request(method, path, headers=sent, **options)

    def clear(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()
