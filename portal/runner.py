"""``make run``: migrate, seed the demo company, and run web, the workers (one for the default
queue, one for the ``webhooks`` queue), beat and the serving runtime until Ctrl-C; the demo endpoint then gets some traffic through the gateway.

On the embedded default everything lives under ``var/``: SQLite, a filesystem Celery broker, the
cache. With ``DATABASE_URL`` and ``REDIS_URL`` set, the same processes use those servers.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from portal.core.env import private_key_file

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


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _embedded_mlflow(env: dict[str, str]) -> subprocess.Popen | None:
    """Start MLflow on loopback (SQLite, local artifacts) unless MLFLOW_TRACKING_URI points elsewhere.

    The webhook secret and the key MLflow encrypts it with are made once and kept under
    ``var/mlflow/``: MLflow makes a new key at every start when none is given, and then cannot
    read the webhook it stored before, so a second start would fail.
    """
    if env.get("MLFLOW_TRACKING_URI"):
        return None
    folder = Path(env.get("PORTAL_VAR_DIR", ROOT / "var")) / "mlflow"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    port = env.get("MLFLOW_PORT", "5500")
    url = f"http://127.0.0.1:{port}"
    webhook_secret = private_key_file(folder / "webhook-secret", lambda: secrets.token_urlsafe(32))
    encryption_key = env.get("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY") or private_key_file(
        folder / "webhook-encryption-key", _fernet_key
    )
    env["MLFLOW_TRACKING_URI"] = url
    env.setdefault("MLFLOW_WEBHOOK_SECRET", webhook_secret)
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
        MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY=encryption_key,
    )
    process = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            port,
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
    _wait_for_mlflow(process, url)
    return process


def _wait_for_mlflow(process: subprocess.Popen, url: str) -> None:
    """Wait while MLflow's process lives and has not answered yet, up to MLFLOW_START_SECONDS.

    A busy machine can take minutes to start it (its first start migrates its database), so the
    wait says what it waits for every so often instead of giving up early.
    """
    limit = float(os.environ.get("MLFLOW_START_SECONDS", "600"))
    started = time.monotonic()
    next_word = started + 15
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310 (loopback http)
                print(f"MLflow is up at {url}/", flush=True)
                return
        except OSError:
            pass
        now = time.monotonic()
        if process.poll() is not None:
            reason = f"its process exited with status {process.returncode}"
            break
        if now - started > limit:
            reason = f"it did not answer within {limit:.0f} s (MLFLOW_START_SECONDS)"
            break
        if now >= next_word:
            print(
                f"Waiting for MLflow to answer at {url}/health "
                f"({now - started:.0f} s so far; its process is running)...",
                flush=True,
            )
            next_word = now + 15
        time.sleep(0.5)
    print(
        f"MLflow did not start: {reason}. The catalog will stay empty until it does.",
        file=sys.stderr,
        flush=True,
    )


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
            "--queues",
            "celery",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "worker@%h",
        ],
        # Webhooks and emails on their own worker: a slow receiver never holds a rollout or a sync.
        "webhooks": [
            str(BIN / "celery"),
            "-A",
            "portal",
            "worker",
            "--queues",
            "webhooks",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "webhooks@%h",
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
