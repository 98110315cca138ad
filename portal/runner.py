"""``make run``: migrate, seed the demo company, and run web, worker, beat and the serving
runtime until Ctrl-C; the demo endpoint then gets some traffic through the gateway.

On the embedded default everything lives under ``var/``: SQLite, a filesystem Celery broker, the
cache. With ``DATABASE_URL`` and ``REDIS_URL`` set, the same processes use those servers.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
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


def _embedded_mlflow(env: dict[str, str]) -> subprocess.Popen | None:
    """Start MLflow on loopback (SQLite, local artifacts) unless MLFLOW_TRACKING_URI points elsewhere."""
    if env.get("MLFLOW_TRACKING_URI"):
        return None
    folder = Path(env.get("PORTAL_VAR_DIR", ROOT / "var")) / "mlflow"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    secret_file = folder / "webhook-secret"
    if not secret_file.exists():
        descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
    secret_file.chmod(0o600)
    env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:5500"
    env.setdefault("MLFLOW_WEBHOOK_SECRET", secret_file.read_text().strip())
    mlflow_env = {
        k: v
        for k, v in env.items()
        if k not in {"SECRET_KEY", "DATABASE_URL", "MLFLOW_WEBHOOK_SECRET"}
    }
    # Loopback delivery needs both switches; the short cache makes a new webhook take effect at once.
    mlflow_env.update(
        MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https",
        MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true",
        MLFLOW_WEBHOOK_CACHE_TTL="5",
    )
    process = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            "5500",
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
        ],
        cwd=ROOT,
        env=mlflow_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    for _ in range(120):
        try:
            with urllib.request.urlopen("http://127.0.0.1:5500/health", timeout=1):
                print("MLflow is up at http://127.0.0.1:5500/", flush=True)
                return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    print("MLflow did not start; the catalog will stay empty until it does.", file=sys.stderr)
    return process


def main() -> int:
    # Everything under var/ (database, secrets, MLflow's store, model copies) is private to the
    # portal's user, from the first file on.
    os.umask(0o077)
    var = Path(os.environ.get("PORTAL_VAR_DIR", ROOT / "var"))
    var.mkdir(mode=0o700, parents=True, exist_ok=True)
    var.chmod(0o700)
    env = _environment()
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    mlflow = _embedded_mlflow(env)
    try:
        _manage("migrate", "--noinput", env=env)
        if env["DEBUG"].lower() not in {"1", "true", "yes", "on"}:
            _manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
        _manage(
            "seed_demo",
            "--webhook-url",
            f"http://127.0.0.1:{port}/api/v1/webhooks/mlflow/",
            env=env,
        )
    except subprocess.CalledProcessError as error:
        print(f"Start-up step failed: {' '.join(error.cmd[1:])}", file=sys.stderr)
        if mlflow:
            mlflow.terminate()
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
        "serving": [str(BIN / "python"), "manage.py", "run_serving"],
    }
    processes = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
    if mlflow:
        processes["mlflow"] = mlflow
    # One-off: once the demo endpoint is live, send it traffic through the gateway (not watched).
    demo_traffic = subprocess.Popen(
        [str(BIN / "python"), "manage.py", "demo_traffic", "--url", f"http://{host}:{port}"],
        cwd=ROOT,
        env=env,
    )
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

    for process in [*processes.values(), demo_traffic]:
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
