"""Servers the tests start and stop themselves: Redis, a Celery worker, PostgreSQL, gunicorn.

Each listens on a free loopback port (never the machine's shared servers), writes its output to a
log file the failure messages quote, and is bounded by timeouts when starting and stopping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.mlflow_server import free_port

ROOT_DIR = Path(__file__).resolve().parent.parent

__all__ = [
    "AppServer",
    "CeleryWorker",
    "PostgresServer",
    "RedisServer",
    "database_url",
    "free_port",
    "require_program",
    "wait_for",
]


def wait_for(predicate: Callable[[], object], *, seconds: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is truthy or ``seconds`` pass; whether it became truthy."""
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def require_program(path: str | None, what: str) -> str:
    """``path`` if it exists, else skip the test (fail it in CI, which must run everything)."""
    if path and Path(path).exists():
        return path
    message = f"{what} is not installed here"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def database_url(database: dict) -> str:
    """A ``postgres://`` URL for a Django ``DATABASES`` entry (the test database, the app role)."""
    user = quote(str(database.get("USER") or ""))
    password = database.get("PASSWORD")
    credentials = f"{user}:{quote(str(password))}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or "127.0.0.1"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(str(database['NAME']))}"


def _spawn(
    args: list[str], *, log: Path, env: dict[str, str], own_session: bool = False
) -> subprocess.Popen:
    """``python <args>`` in the project, with its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )


def _stop(process: subprocess.Popen | None, *, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- Redis ----------------------------------------------------------------------------------------


class RedisServer:
    """A throwaway ``redis-server`` on loopback, without persistence; it can be stopped, started
    again on the same port, and frozen (SIGSTOP) to play a server that accepts but never answers."""

    def __init__(self, folder: Path) -> None:
        self.program = require_program(shutil.which("redis-server"), "redis-server")
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = self.folder / "redis.log"
        self.process = subprocess.Popen(
            [
                self.program,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        if not wait_for(lambda: self.process.poll() is not None or self.ping(), seconds=timeout):
            self.stop()
            raise RuntimeError(
                f"redis-server did not answer within {timeout} s:\n{_tail(self.log)}"
            )
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{_tail(self.log)}")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.thaw()
        _stop(self.process)

    def freeze(self) -> None:
        """Still accepting connections (the kernel does that), never answering."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def client(self, db: int = 0):
        import redis

        return redis.Redis.from_url(self.url(db), socket_timeout=2, socket_connect_timeout=2)


# --- A Celery worker ------------------------------------------------------------------------------


class CeleryWorker:
    """``celery worker --pool solo`` of the portal on the test database and the given broker,
    consuming the given queues (all of them unless named), logging from ``loglevel`` up."""

    def __init__(
        self,
        log: Path,
        *,
        broker_url: str,
        env: dict[str, str] | None = None,
        queues: tuple[str, ...] = (),
        loglevel: str = "WARNING",
    ) -> None:
        from django.conf import settings

        self.log = log
        self.queues = queues
        self.loglevel = loglevel
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_MIGRATE_URL", "REDIS_URL"}
        }
        self.env.update(
            {
                "DATABASE_URL": database_url(settings.DATABASES["default"]),
                "CELERY_BROKER_URL": broker_url,
                "PORTAL_VAR_DIR": str(settings.VAR_DIR),
                **(env or {}),
            }
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        self.process = _spawn(
            [
                *("-m", "celery", "-A", "portal", "worker", "--pool", "solo"),
                *("--loglevel", self.loglevel),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
                *(("--queues", ",".join(self.queues)) if self.queues else ()),
            ],
            log=self.log,
            env=self.env,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: the worker vanishes mid-task, as on an OOM kill or a lost machine."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        # A cold shutdown (SIGQUIT): a warm one lets a solo worker finish its task first, and
        # tests do not wait for that. An unfinished task stays unacknowledged, as acks are late.
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
        _stop(self.process, timeout=5)

    def output(self) -> str:
        return _tail(self.log)


# --- PostgreSQL -----------------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent  # the version's folder, with psql and pg_dump
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


class PostgresServer:
    """A private PostgreSQL cluster (``initdb`` into a temporary folder) on a free loopback port,
    with trust authentication for its superuser ``postgres``. Under root, its programs run as the
    ``postgres`` system user, since PostgreSQL refuses to run as root."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        require_program(str(bin_dir / "initdb") if bin_dir else None, "PostgreSQL's initdb")
        assert bin_dir is not None
        self.bin = bin_dir
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = require_program(
                shutil.which("runuser"), "runuser (to run initdb as postgres)"
            )
            try:
                import pwd

                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres system user to run initdb")
            self.as_user = [runuser, "-u", "postgres", "--"]
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="portal-test-pg-"))
        if self.as_user:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self.as_user, str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stderr or result.stdout}")

    def start(self, timeout: float = 30) -> PostgresServer:
        if not self.data.exists():
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 5,
        )
        return self

    def stop(self, timeout: float = 30) -> None:
        """A fast shutdown: sessions are cut, as in a restart under traffic."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(timeout)),
                "stop",
                timeout=timeout + 5,
            )

    def psql(self, database: str, sql: str) -> None:
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        )

    def copy_database(self, source: dict, *, into: str) -> None:
        """Schema and rows of ``source`` (a ``DATABASES`` entry whose role may read every row)."""
        self.psql("postgres", f'CREATE DATABASE "{into}"')
        env = {**os.environ, "PGPASSWORD": str(source.get("PASSWORD") or "")}
        dump = subprocess.Popen(
            [
                str(self.bin / "pg_dump"),
                "--no-owner",
                "--no-privileges",
                "-h",
                source.get("HOST") or "127.0.0.1",
                "-p",
                str(source.get("PORT") or 5432),
                "-U",
                str(source["USER"]),
                str(source["NAME"]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        restore = subprocess.run(
            [
                *self.as_user,
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                into,
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
            ],
            stdin=dump.stdout,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert dump.stdout is not None and dump.stderr is not None
        dump.stdout.close()
        dump_error = dump.stderr.read().decode(errors="replace")
        dump.stderr.close()
        if dump.wait(timeout=60) != 0 or restore.returncode != 0:
            raise RuntimeError(f"copying the database failed: {dump_error}{restore.stderr}")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


# --- The web app ----------------------------------------------------------------------------------


class AppServer:
    """The portal under gunicorn (as in production: DEBUG off, threads) with the given settings;
    ``wsgi`` names the entry (``portal.gateway_wsgi``: the gateway's own process), ``threads`` the
    size of its one worker's pool."""

    def __init__(
        self, log: Path, *, env: dict[str, str], wsgi: str = "portal.wsgi", threads: int = 8
    ) -> None:
        self.log = log
        self.wsgi, self.threads = wsgi, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "DATABASE_MIGRATE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        }
        self.env.update(
            {
                "DEBUG": "false",
                "SECRET_KEY": "failure-tests-" + "x" * 40,
                "SECURE_SSL_REDIRECT": "false",
                "ALLOWED_HOSTS": "127.0.0.1",
                **env,
            }
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> AppServer:
        self.process = _spawn(
            [
                *("-m", "gunicorn", self.wsgi, "--bind", f"127.0.0.1:{self.port}"),
                *("--workers", "1", "--threads", str(self.threads)),
                *("--timeout", "30", "--graceful-timeout", "2"),
            ],
            log=self.log,
            env=self.env,
            own_session=True,
        )

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{_tail(self.log)}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310 (loopback)
                    return True
            except OSError:
                return False

        if not wait_for(answers, seconds=timeout, interval=0.2):
            self.stop()
            raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{_tail(self.log)}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def output(self) -> str:
        return _tail(self.log)
