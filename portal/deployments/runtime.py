"""The local serving runtime: one model server process per live local revision.

``ServingRuntime.reconcile()`` compares the local revisions that are deploying or live with the
processes it runs: it has a new revision's model downloaded and verified (below) and starts
MLflow's own scoring app on it (what ``mlflow models serve --env-manager local`` runs, under
uvicorn) in a sandbox of its own, listening on a Unix socket in the server's own folder, checks
every server on ``/ping``, restarts one that exited or stopped answering (at most
``SERVING_MAX_RESTARTS`` times in ``SERVING_RESTART_WINDOW_SECONDS``, after which the revision is
reported failed and rolled back), and stops servers whose revision is no longer wanted (ten
seconds after it left the traffic, so requests already on their way are answered). What it
sees goes into each revision's ``serving`` field and moves deploying revisions along at once.

Downloads never run on the reconcile loop: each new revision's files are fetched by a thread of its
own, within ``SERVING_DOWNLOAD_TIMEOUT_SECONDS``, so a slow or large model never delays another
server's health checks or restarts; the loop starts a server once its files are ready. Every file
is checked against the version's manifest (``portal.catalog.digests``), whose digest is the one
approvals are bound to; on any difference the revision fails with what differs and no server
starts. Verified files are kept under ``SERVING_DIR/verified/<digest>``, so a restart, a rollback
or a new revision of the same version reuses them (checked again, from disk) without MLflow. A
kept copy that no wanted revision has used for ``SERVING_VERIFIED_KEEP_DAYS`` is removed (checked
hourly), so the store holds what can be rolled back to, not every version ever served.

Loading a model runs its code, so a model server runs in a bubblewrap sandbox
(``portal.deployments.sandbox``) that sees its own model and the Python environment read-only,
and no network, no other process and nothing of the portal's ``var/``; its environment is built
from nothing (a PATH, a locale and a home folder of its own). The runtime checks once, when it
starts, that a sandbox can start here, and refuses to run otherwise unless ``SERVING_SANDBOX=off``
says so. Each server has a random secret (``SERVING_DIR/run/<id>/secret``, private to the
portal's user); the server answers only requests that present it, which only the gateway and
the runtime do.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import urllib3
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from portal.catalog.digests import Manifest, manifest_digest, manifest_mismatches
from portal.catalog.mlflow_adapter import MlflowRegistry
from portal.deployments import rollout, sandbox
from portal.deployments.models import Deployment, DeploymentState, Target
from portal.deployments.modelserver import scoring_guard
from portal.deployments.targets.base import TargetState
from portal.deployments.unix_http import UnixPools, secret_path

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = urllib3.Timeout(connect=0.5, read=2.0)
HEARTBEAT_SECONDS = 10.0
# A revision taken out of the traffic keeps answering this long, for requests already routed to it.
DRAIN_SECONDS = 10.0
PRUNE_INTERVAL_SECONDS = 3600.0  # how often unused verified copies are looked for
# Consecutive failed pings of a server that was ready before it is restarted.
UNHEALTHY_PINGS = 3
SOCKET_NAME = "server.sock"
# The longest path a Unix socket may have (sun_path is 108 bytes with its terminating zero).
SOCKET_PATH_MAX = 107
# The folder holding only the model server's own code (``scoring_guard``), on its PYTHONPATH.
MODEL_SERVER_CODE = Path(scoring_guard.__file__).resolve().parent


def server_environment(home: Path | str, *, python: str | None = None) -> dict[str, str]:
    """The whole environment of a model server process: nothing from the portal's own."""
    return {
        "PATH": os.path.dirname(python or sys.executable)
        + os.pathsep
        + "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": "model",
        "LOGNAME": "model",
        "TMPDIR": "/tmp",  # noqa: S108 - a tmpfs of its own inside the sandbox
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _private_folder(path: Path) -> Path:
    """``path`` as a folder only the portal's user may enter (0700), made if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to stop the model server when the runtime dies, so none is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class ModelServer:
    deployment_id: int
    target_name: str
    model_path: Path
    # SERVING_DIR/run/<id>: the secret (read by the gateway) and socket/, the only folder the
    # sandboxed server may write to that outlives it.
    run_dir: Path
    secret: str = ""
    sandboxed: bool = True
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    state: str = TargetState.PENDING
    message: str = ""
    failed_pings: int = 0
    restarts: deque[float] = field(default_factory=deque)
    restart_count: int = 0
    last_restart: str = ""
    log_path: Path | None = None

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "socket" / SOCKET_NAME

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def log_tail(self, lines: int = 5) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:])


class ArtifactMismatch(Exception):
    """The files of a revision are not those its version's approval was bound to."""


def _link_or_copy(source: str, destination: str) -> str:
    try:
        os.link(source, destination)
    except OSError:  # another file system
        shutil.copy2(source, destination)
    return destination


class ServingRuntime:
    """Keeps the model servers of local revisions running; see the module docstring."""

    def __init__(self, *, workers: int | None = None, registry: MlflowRegistry | None = None):
        self.workers = workers or settings.SERVING_WORKERS
        self.registry = registry
        self.servers: dict[int, ModelServer] = {}
        self.http = UnixPools(maxsize=8, retries=False, timeout=HEALTH_TIMEOUT)
        self.root = Path(settings.SERVING_DIR)
        self.sandboxed = settings.SERVING_SANDBOX != "off"
        if self.sandboxed:
            sandbox.probe()  # raises SandboxUnavailable: no model code runs unsandboxed by accident
        else:
            log.warning(sandbox.OFF_WARNING)
        self._reported: dict[int, tuple[Any, ...]] = {}
        self._reported_at: dict[int, float] = {}
        self._stop = threading.Event()
        # Downloads under way, off the reconcile loop: deployment id -> (its result, started at).
        self.downloads: dict[int, tuple[Future[None], float]] = {}
        self._pruned_at = float("-inf")

    # --- the loop ------------------------------------------------------------------------------

    def run(self, *, interval: float = 1.0) -> None:
        """Reconcile every ``interval`` seconds until ``stop()``; stops every server on the way out."""
        log.info(
            "Serving runtime started (%s worker(s) per model server, %s).",
            self.workers,
            "each in a bubblewrap sandbox" if self.sandboxed else "NOT SANDBOXED",
        )
        _private_folder(self.root)
        # Model copies of an earlier run may belong to rows that no longer mean the same thing.
        shutil.rmtree(self.root / "models", ignore_errors=True)
        shutil.rmtree(self.root / "run", ignore_errors=True)
        try:
            while not self._stop.is_set():
                try:
                    close_old_connections()
                    self.reconcile()
                except Exception:  # keep serving what runs; the next round tries again
                    log.exception("Serving runtime: a reconcile round failed")
                self._stop.wait(interval)
        finally:
            self.stop_all()
            connection.close()

    def stop(self) -> None:
        self._stop.set()

    def reconcile(self) -> None:
        drained = timezone.now() - timedelta(seconds=DRAIN_SECONDS)
        wanted = {
            d.pk: d
            for d in Deployment.objects.dangerously_across_tenants()
            .filter(
                Q(state__in=[DeploymentState.DEPLOYING, DeploymentState.LIVE])
                | Q(
                    state__in=[DeploymentState.ROLLED_BACK, DeploymentState.RETIRED],
                    live_until__gte=drained,
                ),
                target=Target.LOCAL,
            )
            .select_related("model_version")
        }
        for deployment_id in list(self.servers):
            if deployment_id not in wanted:
                self._stop_server(self.servers.pop(deployment_id))
                self._reported.pop(deployment_id, None)
        for deployment_id in list(self.downloads):
            if deployment_id not in wanted:
                self._forget_download(deployment_id)
        for deployment_id, deployment in wanted.items():
            server = self.servers.get(deployment_id)
            if server is None:
                if deployment.serving.get("state") == TargetState.FAILED:
                    continue  # reported failed; the rollout or rollback deals with it
                server = self._start(deployment)
                if server is None:
                    continue
            self._check(server)
            self._report(deployment, server)
        if time.monotonic() - self._pruned_at >= PRUNE_INTERVAL_SECONDS:
            self._pruned_at = time.monotonic()
            self.prune_verified(in_use={d.model_version.artifact_digest for d in wanted.values()})

    def prune_verified(self, *, in_use: set[str]) -> list[str]:
        """Remove the kept copies (and abandoned partial downloads) that no revision in ``in_use``
        needs and that nothing used for ``SERVING_VERIFIED_KEEP_DAYS``; their names, sorted."""
        store = self.root / "verified"
        if not store.is_dir():
            return []
        cutoff = time.time() - settings.SERVING_VERIFIED_KEEP_DAYS * 86400
        removed = []
        for folder in store.iterdir():
            if folder.name in in_use or folder.stat().st_mtime >= cutoff:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
        if removed:
            log.info("Removed %s kept model cop(ies) no revision used lately.", len(removed))
        return sorted(removed)

    # --- one server ----------------------------------------------------------------------------

    def _start(self, deployment: Deployment) -> ModelServer | None:
        """The revision's server once its files are downloaded and verified; None until then
        (the download runs in a thread of its own, started on the first call)."""
        job = self.downloads.get(deployment.pk)
        if job is None:
            self.downloads[deployment.pk] = (
                self._download_in_background(deployment),
                time.monotonic(),
            )
            return None
        download, started = job
        overdue = time.monotonic() - started > settings.SERVING_DOWNLOAD_TIMEOUT_SECONDS
        if not download.done() and not overdue:
            return None
        target_name = deployment.serving.get("target_name") or f"deployment-{deployment.pk}"
        folder = self.root / "models" / str(deployment.pk)
        server = ModelServer(
            deployment_id=deployment.pk,
            target_name=target_name,
            model_path=folder / "model",
            run_dir=self.root / "run" / str(deployment.pk),
            sandboxed=self.sandboxed,
        )
        self.servers[deployment.pk] = server
        _private_folder(folder.parent)
        if not download.done():
            self._forget_download(deployment.pk)
            server.state = TargetState.FAILED
            server.message = (
                "The model's files were not downloaded and verified within "
                f"{settings.SERVING_DOWNLOAD_TIMEOUT_SECONDS} s; no server was started."
            )
        else:
            self.downloads.pop(deployment.pk)
            error = download.exception()
            if error is not None:
                server.state = TargetState.FAILED
                server.message = (
                    str(error)
                    if isinstance(error, ArtifactMismatch)
                    else f"The model could not be downloaded: {error}"
                )
        if server.state == TargetState.FAILED:
            log.warning("Serving %s: %s", target_name, server.message)
            return server
        self._spawn(server)
        return server

    # --- a revision's files, fetched and verified off the reconcile loop ------------------------

    def _download_in_background(self, deployment: Deployment) -> Future[None]:
        version = deployment.model_version
        source = deployment.serving.get("model_uri") or version.source
        job: Future[None] = Future()
        job.set_running_or_notify_cancel()

        def work() -> None:
            try:
                self._fetch(
                    deployment_id=deployment.pk,
                    source=source,
                    digest=version.artifact_digest,
                    manifest=version.artifact_manifest,
                )
            except BaseException as error:  # handed to the reconcile loop
                job.set_exception(error)
            else:
                job.set_result(None)

        threading.Thread(target=work, name=f"download-{deployment.pk}", daemon=True).start()
        return job

    def _forget_download(self, deployment_id: int) -> None:
        """A download no longer wanted: its files go once it ends (threads cannot be stopped;
        MLflow's request timeout bounds each of its requests)."""
        download, _ = self.downloads.pop(deployment_id)
        folder = self.root / "models" / str(deployment_id)
        download.add_done_callback(lambda _: shutil.rmtree(folder, ignore_errors=True))

    def _fetch(self, *, deployment_id: int, source: str, digest: str, manifest: Manifest) -> None:
        """Put the revision's verified model files into its folder (runs in a thread; no database)."""
        if not manifest or manifest_digest(manifest) != digest:
            raise ArtifactMismatch(
                "The portal holds no manifest of this version's files that matches its approved "
                "digest, so its files cannot be verified; no server was started."
            )
        verified = self._verified_copy(source=source, digest=digest, manifest=manifest)
        model_root = verified
        if not (verified / "MLmodel").exists():
            found = next(verified.rglob("MLmodel"), None)
            if found is None:
                raise FileNotFoundError("the downloaded files hold no MLmodel file")
            model_root = found.parent
        folder = self.root / "models" / str(deployment_id)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copytree(model_root, folder / "model", copy_function=_link_or_copy)

    def _verified_copy(self, *, source: str, digest: str, manifest: Manifest) -> Path:
        """The folder under ``SERVING_DIR/verified`` holding exactly the files of ``manifest``:
        the one kept from an earlier download when its files still match, else a new download
        from MLflow, checked file by file before it is kept."""
        store = self.root / "verified" / digest
        if store.is_dir():
            problems = manifest_mismatches(store, manifest)
            if not problems:
                os.utime(store)  # used: kept for another SERVING_VERIFIED_KEEP_DAYS
                return store
            log.warning("The kept copy of %s changed (%s); downloading it again.", digest, problems)
            shutil.rmtree(store, ignore_errors=True)
        partial = store.with_name(f"{digest}.{threading.get_ident()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            registry = self.registry or MlflowRegistry()
            path = Path(registry.download_model(source=source, dst_path=str(partial)))
            problems = manifest_mismatches(path, manifest)
            if problems:
                shown = "; ".join(problems[:5]) + ("; and more" if len(problems) > 5 else "")
                raise ArtifactMismatch(
                    f"The model's files in MLflow do not match the approved artifact ({shown}); "
                    "no server was started."
                )
            try:
                path.rename(store)
            except OSError:
                if not store.is_dir():  # else another revision of the same version kept it first
                    raise
            return store
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def _spawn(self, server: ModelServer) -> None:
        home = server.model_path.parent
        server.log_path = home / "server.log"
        if not server.secret:
            server.secret = self._write_secret(server)
        socket_dir = _private_folder(server.socket_path.parent)
        server.socket_path.unlink(missing_ok=True)  # a killed server's socket
        if len(str(server.socket_path)) > SOCKET_PATH_MAX:
            self._fail(
                server, f"SERVING_DIR is too long a path for a Unix socket: {server.socket_path}"
            )
            return
        with open(server.log_path, "ab") as output:
            server.process = subprocess.Popen(
                self._command(server, socket_dir),
                cwd=home,
                env=self._environment(server),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        server.started_at = time.monotonic()
        server.state, server.failed_pings = TargetState.PENDING, 0
        server.message = "The model server is starting."
        log.info(
            "Serving %s on %s (pid %s, %s)",
            server.target_name,
            server.socket_path,
            server.pid,
            "sandboxed" if server.sandboxed else "NOT SANDBOXED",
        )

    def _write_secret(self, server: ModelServer) -> str:
        secret = secrets.token_urlsafe(32)
        path = secret_path(server.socket_path)
        _private_folder(path.parent)
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secret)
        return secret

    def _command(self, server: ModelServer, socket_dir: Path) -> list[str]:
        if not server.sandboxed:
            return self._serve_command(sys.executable, server.socket_path)
        inside = self._serve_command(
            sandbox.python_executable(), Path(sandbox.SOCKET_DIR) / SOCKET_NAME
        )
        return sandbox.bwrap_command(
            model=server.model_path,
            socket_dir=socket_dir,
            code_dir=MODEL_SERVER_CODE,
            command=inside,
        )

    def _serve_command(self, python: str, socket_path: Path) -> list[str]:
        # What `mlflow models serve --env-manager local` runs, on a Unix socket instead of a port,
        # without an access log: the gateway records every request, and server.log keeps the
        # start-up and errors that a failed revision's message quotes.
        return [
            python,
            "-m",
            "uvicorn",
            "--uds",
            str(socket_path),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--factory",
            "scoring_guard:create_app",
        ]

    def _environment(self, server: ModelServer) -> dict[str, str]:
        if server.sandboxed:
            env = server_environment(sandbox.HOME_DIR, python=sandbox.python_executable())
            model, code = sandbox.MODEL_DIR, sandbox.CODE_DIR
        else:
            env = server_environment(server.model_path.parent)
            model, code = str(server.model_path), str(MODEL_SERVER_CODE)
        env[scoring_guard.MODEL_ENV] = model
        env[scoring_guard.SECRET_ENV] = server.secret
        env["PYTHONPATH"] = code
        return env

    def _ping(self, server: ModelServer) -> bool:
        try:
            answer = self.http.request(
                "GET", str(server.socket_path), "/ping", secret=server.secret
            )
        except urllib3.exceptions.HTTPError:
            return False
        return answer.status == 200

    def _check(self, server: ModelServer) -> None:
        if server.state == TargetState.FAILED or server.process is None:
            return
        code = server.process.poll()
        if code is not None:
            self._restart(server, f"The model server exited with code {code}.")
            return
        if self._ping(server):
            server.failed_pings = 0
            if server.state != TargetState.READY:
                server.state = TargetState.READY
                server.message = "Healthy: the model server answers /ping."
            return
        if server.state == TargetState.READY:
            server.failed_pings += 1
            if server.failed_pings >= UNHEALTHY_PINGS:
                self._restart(server, "The model server stopped answering /ping.")
        elif time.monotonic() - server.started_at > settings.SERVING_START_TIMEOUT_SECONDS:
            self._fail(
                server,
                f"The model server did not answer /ping within "
                f"{settings.SERVING_START_TIMEOUT_SECONDS} s.",
            )

    def _restart(self, server: ModelServer, why: str) -> None:
        now = time.monotonic()
        window = settings.SERVING_RESTART_WINDOW_SECONDS
        while server.restarts and now - server.restarts[0] > window:
            server.restarts.popleft()
        tail = server.log_tail()
        if len(server.restarts) >= settings.SERVING_MAX_RESTARTS:
            self._fail(
                server,
                f"{why} It was restarted {len(server.restarts)} time(s) in the last "
                f"{window} s and is given up." + (f" Last output: {tail}" if tail else ""),
            )
            return
        self._terminate(server)
        server.restarts.append(now)
        server.restart_count += 1
        log.warning("Serving %s: %s Restarting.", server.target_name, why)
        self._spawn(server)
        server.last_restart = f"{why} Restarted (restart {server.restart_count})."
        server.message = server.last_restart

    def _fail(self, server: ModelServer, message: str) -> None:
        self._terminate(server)
        server.state, server.message = TargetState.FAILED, message
        log.warning("Serving %s failed: %s", server.target_name, message)

    def _terminate(self, server: ModelServer) -> None:
        process = server.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def _stop_server(self, server: ModelServer) -> None:
        log.info("Serving %s: stopping the model server.", server.target_name)
        self._terminate(server)
        shutil.rmtree(server.model_path.parent, ignore_errors=True)
        shutil.rmtree(server.run_dir, ignore_errors=True)

    def stop_all(self) -> None:
        for server in self.servers.values():
            self._terminate(server)
        self.servers.clear()

    # --- telling the portal --------------------------------------------------------------------

    def _report(self, deployment: Deployment, server: ModelServer) -> None:
        seen = (server.state, server.pid, server.message, server.restart_count)
        now = time.monotonic()
        changed = self._reported.get(deployment.pk) != seen
        if not changed and now - self._reported_at.get(deployment.pk, 0) < HEARTBEAT_SECONDS:
            return
        serving = {
            **deployment.serving,
            "target_name": server.target_name,
            "state": server.state,
            # For the runtime, the gateway and platform admins; the API and a unit's pages
            # show none of them (``portal.deployments.serializers.public_serving``).
            "socket": str(server.socket_path) if server.process else "",
            "pid": server.pid,
            "sandbox": "bwrap" if server.sandboxed else "off",
            "message": server.message,
            "restarts": server.restart_count,
            "last_restart": server.last_restart,
            "checked_at": timezone.now().isoformat(),
        }
        serving.pop("url", None)  # local servers have no TCP address
        Deployment.objects.dangerously_across_tenants().filter(pk=deployment.pk).update(
            serving=serving
        )
        deployment.serving = serving
        self._reported[deployment.pk], self._reported_at[deployment.pk] = seen, now
        if changed:
            self._advance(deployment, server)

    def _advance(self, deployment: Deployment, server: ModelServer) -> None:
        if deployment.state == DeploymentState.DEPLOYING and server.state in (
            TargetState.READY,
            TargetState.FAILED,
        ):
            rollout.rollout_advance(tenant_id=deployment.tenant_id, deployment_id=deployment.pk)
        elif deployment.state == DeploymentState.LIVE and server.state == TargetState.FAILED:
            rollout.revision_unhealthy(
                tenant_id=deployment.tenant_id, deployment_id=deployment.pk, message=server.message
            )
