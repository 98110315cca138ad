"""Fixtures of the failure tests: a private Redis, Celery workers on it, and small HTTP servers
that play a webhook receiver or an MLflow that is slow.

Nothing here touches the machine's shared Redis or PostgreSQL: the Redis server is this test's own
(a free loopback port, no persistence), and the workers use the test database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kombu import pools

from tests.processes import CeleryWorker, RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, stopped at the end."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis_server: RedisServer, monkeypatch, settings) -> Iterator[RedisServer]:
    """This process's Celery producer and cache on the private Redis (db 0 and db 1)."""
    from portal.celery import app

    def reconnect() -> None:
        # What Celery does after a fork: the next publish connects to the broker URL in effect.
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        pools.reset()  # kombu's global connection and producer pools, keyed by the old URL

    monkeypatch.setenv("CELERY_BROKER_URL", redis_server.url(0))  # Celery reads it first
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis_server.url(1)}}
    reconnect()
    yield redis_server
    reconnect()


@pytest.fixture
def start_worker(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start a worker on the private Redis (``env`` adds settings); all are stopped at the end."""
    workers: list[CeleryWorker] = []

    def start(**env: str) -> CeleryWorker:
        worker = CeleryWorker(
            tmp_path / f"worker-{len(workers) + 1}.log",
            broker_url=redis_server.url(0),
            env={"REDIS_URL": redis_server.url(1), **env},
        ).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


# --- Small HTTP servers in threads ----------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class WebhookReceiver:
    """A tenant's webhook endpoint. With ``hold_first``, the first POST is left unanswered (the
    sender is cut off while waiting), every later one is answered 200."""

    url: str = ""
    hold_first: bool = False
    received: list[str] = field(default_factory=list)  # X-Portal-Delivery of every POST
    accepted: list[str] = field(default_factory=list)  # of the POSTs answered 200
    first_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    state = WebhookReceiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            delivery = self.headers.get("X-Portal-Delivery", "")
            with lock:
                state.received.append(delivery)
                hold = state.hold_first and len(state.received) == 1
            if hold:
                state.first_arrived.set()
                state.release.wait(timeout=60)
                return  # never answered
            with lock:
                state.accepted.append(delivery)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server, state.url = _serve(Handler)
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@dataclass
class FakeMlflow:
    """An MLflow tracking server with an empty registry that answers after ``delay`` seconds."""

    url: str = ""
    delay: float = 0.0
    requests: int = 0
    request_arrived: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def fake_mlflow() -> Iterator[FakeMlflow]:
    state = FakeMlflow()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            state.request_arrived.set()
            if state.delay and state.stop.wait(timeout=state.delay):
                return
            body = json.dumps({}).encode()  # no registered models, no next page
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server, state.url = _serve(Handler)
    yield state
    state.stop.set()
    server.shutdown()
    server.server_close()
