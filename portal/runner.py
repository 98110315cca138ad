"""``make run``: migrate, seed the demo company, and run web, worker and beat until Ctrl-C.

On the embedded default everything lives under ``var/``: SQLite, a filesystem Celery broker, the
cache. With ``DATABASE_URL`` and ``REDIS_URL`` set, the same processes use those servers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env = _environment()
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    try:
        _manage("migrate", "--noinput", env=env)
        if env["DEBUG"].lower() not in {"1", "true", "yes", "on"}:
            _manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
        _manage("seed_demo", env=env)
    except subprocess.CalledProcessError as error:
        print(f"Start-up step failed: {' '.join(error.cmd[1:])}", file=sys.stderr)
        return 1

    commands = {
        "web": [
            str(BIN / "gunicorn"),
            "portal.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--log-level",
            "warning",
        ],
        "worker": [
            str(BIN / "celery"),
            "-A",
            "portal",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "worker@%h",
        ],
        "beat": [str(BIN / "celery"), "-A", "portal", "beat", "--loglevel", "INFO"],
    }
    processes = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
    print(
        f"\nThe portal is starting at http://{host}:{port}/  (API docs: /api/docs/). Ctrl-C stops it.\n",
        flush=True,
    )

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(
                    f"The {name} process exited with status {process.returncode}; stopping.",
                    file=sys.stderr,
                )
                exit_code, stopping = 1, True
                break
        time.sleep(0.5)

    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    print("Stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
