"""Slow clients against the portal as docker-compose runs it: nginx (deploy/nginx/portal.conf) in
front of the web app and the gateway, each a gunicorn of its own.

Sixteen sockets send a request's headers a byte at a time for ten seconds. Straight at gunicorn
(one worker of eight threads) they take every thread, and ``/healthz`` waits for the whole hold;
through the proxy, which reads requests whole before passing them on, ``/healthz`` and a
prediction through ``/serve/`` answer within a second all along.

The prediction's model server is a small HTTP server of this test that answers the MLflow scoring
protocol: the gateway's work (token, route, signature check, forwarding, capture) is all real, only
the model is not, as starting ``mlflow models serve`` costs more than the test is about.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

from portal.deployments.targets.base import TargetState
from portal.monitoring.tests.builders import make_deployment
from tenants.scoping import tenant_scope
from tests.builders import make_token
from tests.processes import (
    AppServer,
    database_url,
    free_port,
    require_program,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
PROXY_CONFIG = ROOT / "deploy" / "nginx" / "portal.conf"
SLOW_CLIENTS = 16
HOLD_SECONDS = 10.0
ANSWER_WITHIN = 1.0  # seconds, for /healthz and a prediction during the hold
THREADS = 8  # per gunicorn: fewer than the slow clients


# --- The servers ----------------------------------------------------------------------------------


def portal_env(folder: Path) -> dict[str, str]:
    if not settings.REDIS_URL:
        pytest.skip("the portal's processes share the cache with this test: set REDIS_URL")
    return {
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
        "PORTAL_VAR_DIR": str(folder / "var"),
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "TRUSTED_PROXY": "true",
    }


class Nginx:
    """nginx on a free loopback port with the repository's config, its upstreams on loopback."""

    def __init__(self, folder: Path, *, web: AppServer, gateway: AppServer) -> None:
        self.program = require_program(
            shutil.which("nginx") or "/usr/sbin/nginx", "nginx (apt-get install nginx)"
        )
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = PROXY_CONFIG.read_text()
        for name, server in (("web:8000", web), ("gateway:8001", gateway)):
            assert f"server {name};" in site, f"{PROXY_CONFIG} no longer names {name}"
            site = site.replace(f"server {name};", f"server 127.0.0.1:{server.port};")
        site = site.replace("listen 8000 ", f"listen 127.0.0.1:{self.port} ")
        (folder / "portal.conf").write_text(site)
        # Under root, nginx's workers would run as nobody, who cannot enter the test's folder.
        user = "user root root;" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"""
            {user}
            daemon off;
            worker_processes 1;
            pid {folder}/nginx.pid;
            events {{ worker_connections 512; }}
            http {{
                access_log {folder}/access.log;
                client_body_temp_path {folder}/client_body;
                proxy_temp_path {folder}/proxy;
                fastcgi_temp_path {folder}/fastcgi;
                uwsgi_temp_path {folder}/uwsgi;
                scgi_temp_path {folder}/scgi;
                include {folder}/portal.conf;
            }}
            """
        )
        self.log = folder / "error.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Nginx:
        config = str(self.folder / "nginx.conf")
        checked = subprocess.run(
            [self.program, "-t", "-p", str(self.folder), "-e", str(self.log), "-c", config],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert checked.returncode == 0, f"nginx refuses {PROXY_CONFIG}:\n{checked.stderr}"
        self.process = subprocess.Popen(
            [self.program, "-p", str(self.folder), "-e", str(self.log), "-c", config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.log.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False

        assert wait_for(listening, seconds=15), "nginx did not listen within 15 s"
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Portal:
    web: AppServer
    gateway: AppServer
    proxy: Nginx


@pytest.fixture(scope="module")
def portal(django_db_setup, tmp_path_factory) -> Iterator[Portal]:
    """The web app and the gateway under gunicorn, and nginx in front, as docker-compose runs
    them (one worker of eight threads each)."""
    folder = tmp_path_factory.mktemp("slow-clients")
    env = portal_env(folder)
    web = AppServer(folder / "web.log", env=env, threads=THREADS)
    gateway = AppServer(
        folder / "gateway.log", env=env, wsgi="portal.gateway_wsgi", threads=THREADS
    )
    proxy = Nginx(folder, web=web, gateway=gateway)
    started: list[AppServer] = []
    failures: list[BaseException] = []

    def start(server: AppServer) -> None:
        try:
            started.append(server.start(timeout=120))
        except BaseException as error:  # reported below, after both have started or failed
            failures.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in (web, gateway)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if failures:
            raise failures[0]
        proxy.start()
        yield Portal(web=web, gateway=gateway, proxy=proxy)
    finally:
        proxy.stop()
        for server in started:
            server.stop()


@pytest.fixture
def model_server() -> Iterator[str]:
    """Answers every scoring request with one prediction per row, as ``mlflow models serve``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            rows = len(body["dataframe_split"]["data"])
            answer = json.dumps({"predictions": [1] * rows}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:  # /ping
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def live_endpoint(company, model_server) -> tuple[str, str]:
    """(the invocations path of a live endpoint of unit A, a predict token of A)."""
    deployment = make_deployment(company.a)
    with tenant_scope(company.a):
        deployment.serving = {"state": TargetState.READY, "url": model_server}
        deployment.save(update_fields=["serving"])
    _, token = make_token(company.a, ["predict"])
    return f"/serve/{company.a.slug}/{deployment.name}/invocations", token


# --- The clients ----------------------------------------------------------------------------------


class SlowClients:
    """``count`` sockets that send a request's headers one byte every half second, for a bounded
    hold; then they are closed."""

    HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200

    def __init__(self, port: int, count: int = SLOW_CLIENTS) -> None:
        self.port, self.count = port, count
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)

    def __enter__(self) -> SlowClients:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(self.HEADERS[:1])
            self.sockets.append(sock)
        self.thread.start()
        time.sleep(1.0)  # every socket has been taken up by the server by now
        return self

    def _drip(self) -> None:
        sent = 1
        while not self.stop.wait(0.5) and sent < len(self.HEADERS):
            for sock in self.sockets:
                with contextlib.suppress(OSError):  # the server gave up on it: all the better
                    sock.sendall(self.HEADERS[sent : sent + 1])
            sent += 1

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def timed_call(url: str, *, body: bytes | None = None, token: str = "") -> tuple[int | None, float]:
    """(status, seconds); status None when nothing answered within 3 s."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (loopback)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310
            response.read()
            status: int | None = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = None
    return status, time.monotonic() - started


PREDICTION = json.dumps(
    {
        "dataframe_split": {
            "columns": ["income", "age", "region"],
            "data": [[52.0, 41, "north"], [18.5, 23, "south"]],
        }
    }
).encode()


# --- The tests ------------------------------------------------------------------------------------


def test_through_the_proxy_health_and_predictions_answer_within_a_second_while_16_clients_crawl(
    portal, live_endpoint
):
    path, token = live_endpoint
    health, invocations = f"{portal.proxy.url}/healthz", f"{portal.proxy.url}{path}"
    # Warm both gunicorns (the first request of a process loads its URLconf).
    assert timed_call(health)[0] == 200
    assert timed_call(invocations, body=PREDICTION, token=token)[0] == 200

    health_calls, predictions = [], []
    with SlowClients(portal.proxy.port):
        deadline = time.monotonic() + HOLD_SECONDS - 1.5
        while time.monotonic() < deadline:
            health_calls.append(timed_call(health))
            predictions.append(timed_call(invocations, body=PREDICTION, token=token))
            time.sleep(0.5)

    assert len(health_calls) >= 5
    assert {status for status, _ in health_calls} == {200}, health_calls
    assert {status for status, _ in predictions} == {200}, predictions
    slowest = max(took for _, took in health_calls + predictions)
    assert slowest < ANSWER_WITHIN, f"an answer took {slowest:.2f} s: {health_calls, predictions}"
    print(
        f"\nthrough nginx, {SLOW_CLIENTS} slow clients for {HOLD_SECONDS:.0f} s: "
        f"{len(health_calls)} /healthz and {len(predictions)} predictions, all 200, the slowest "
        f"in {slowest:.3f} s"
    )


def test_straight_at_gunicorn_16_slow_clients_take_every_thread_and_healthz_waits(portal):
    health = f"{portal.web.url}/healthz"
    assert timed_call(health)[0] == 200

    with SlowClients(portal.web.port):
        status, took = timed_call(health)

    # What the proxy is for: without it the health check (and every page) hangs for the hold.
    assert status is None or took >= ANSWER_WITHIN, f"answered {status} in {took:.2f} s"
    assert wait_for(lambda: timed_call(health)[0] == 200, seconds=15), portal.web.output()
    print(f"\nstraight at gunicorn: /healthz got {status} after {took:.2f} s during the hold")
