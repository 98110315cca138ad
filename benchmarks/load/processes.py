"""The processes around the load: CPU time per process group, the bench database, gunicorn's
environment and start."""

from __future__ import annotations

import http.client
import os
import resource
import socket
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import fresh_database as database_fresh
from benchmarks import production_env
from benchmarks.load.settings import (
    APP_URL,
    DATABASE,
    OWNER_URL,
    ROOT,
)


def _processes() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command line, CPU ticks) of every process (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry)] = (int(fields[1]), cmdline, int(fields[11]) + int(fields[12]))
    return found


class CpuMeter:
    """Busy cores of gunicorn's process tree, of the bench database's PostgreSQL backends, of
    this process and of the whole machine over a window, read from /proc every half second
    (persistent connections end after a minute, so a backend may not live through the window;
    one that ends loses at most its last half second)."""

    def __init__(self, gunicorn_pid: int) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.enabled = Path("/proc/stat").exists()
        self.first: dict[tuple[str, int], int] = {}
        self.last: dict[tuple[str, int], int] = {}
        self.names: dict[int, str] = {}
        self.top_others: list[str] = []  # the busiest other processes, for the report
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[tuple[str, int], int]:
        procs = _processes()
        children = defaultdict(list)
        for pid, (parent, _, _) in procs.items():
            children[parent].append(pid)
        ticks, todo = {}, [self.gunicorn_pid]
        while todo:
            pid = todo.pop()
            if pid in procs:
                ticks[("gunicorn", pid)] = procs[pid][2]
            todo.extend(children.get(pid, []))
        for pid, (_, cmd, used) in procs.items():
            if cmd.startswith("postgres:") and f" {DATABASE} " in cmd:
                ticks[("postgres backends", pid)] = used
            elif ("gunicorn", pid) not in ticks and pid != os.getpid():
                ticks[("other", pid)] = used
                self.names[pid] = cmd.strip()[:70]
        return ticks

    @staticmethod
    def _totals() -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        return {
            "load client": usage.ru_utime + usage.ru_stime,
            "whole machine": (user + nice + system + irq + softirq + steal)
            / os.sysconf("SC_CLK_TCK"),
        }

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            self.last.update(self._sample())

    def start(self) -> None:
        if self.enabled:
            self.first = self._sample()
            self.totals = self._totals()
            self.began = time.perf_counter()
            self.thread.start()

    def finish(self) -> dict[str, float]:
        """Busy cores on average since ``start``; "others" is what the rest of the machine did."""
        if not self.enabled:
            return {}
        self.stop.set()
        self.thread.join()
        self.last.update(self._sample())
        seconds = time.perf_counter() - self.began
        hz = os.sysconf("SC_CLK_TCK")
        busy: dict[str, float] = defaultdict(float)
        others = {}
        for key, used in self.last.items():
            cores = (used - self.first.get(key, 0)) / hz / seconds  # born later: from 0
            if key[0] == "other":
                others[key[1]] = cores
            else:
                busy[key[0]] += cores
        self.top_others = [
            f"{cores:.2f} cores: {self.names[pid]}"
            for pid, cores in sorted(others.items(), key=lambda item: -item[1])[:3]
            if cores >= 0.05
        ]
        totals = self._totals()
        for name, value in totals.items():
            busy[name] = (value - self.totals[name]) / seconds
        busy["others"] = busy["whole machine"] - sum(
            v for k, v in busy.items() if k != "whole machine"
        )
        return {name: round(max(0.0, v), 2) for name, v in busy.items()}


def fresh_database() -> None:
    """The bench database and the application's role."""
    database_fresh(DATABASE)


def analyze() -> None:
    """Fresh planner statistics after the seed, as autovacuum keeps them on a live database."""
    import psycopg

    with psycopg.connect(OWNER_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz")


def environment(folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # Nothing of the caller's servers: no shared Redis, broker or MLflow for this run.
        if k not in {"REDIS_URL", "CELERY_BROKER_URL", "MLFLOW_TRACKING_URI", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=APP_URL,
        DATABASE_MIGRATE_URL=OWNER_URL,
        **production_env(folder),
        CELERY_BROKER_URL="memory://localhost/",  # the seed's notifications and rollouts go nowhere
        CELERY_TASK_ALWAYS_EAGER="false",  # (bench_gateway, run before in `make bench`, sets it)
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        THROTTLE_LOGIN="10000/5min",  # every virtual user signs in from 127.0.0.1
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env
