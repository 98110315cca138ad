"""Registry sync and catalog list against MLflow itself, on 1,000 models x 10 versions.

Measured in one run, on loopback:
- a bare ``MlflowClient`` pass over the registry (every model page, every model's versions);
- the portal's full registry sync into an empty catalog (target: at most 1.5x the bare pass),
  then the details pass that reads each new version's run, signature and artifacts once;
- a bare pass that streams every version's artifact files once over MLflow's artifact API
  (the details pass hashes every file's bytes, so it may cost at most that much more);
- a re-sync with nothing changed (target: at most 5% of the full sync);
- the catalog list API (gunicorn, one worker) against MLflow's ``registered-models/search``
  (one worker), page size 100, median of repeated calls (target: at least as fast);
- the SQL queries of the list endpoint for page sizes 10, 100 and 500 (target: constant).

Environment: ``BENCH_MODELS`` and ``BENCH_VERSIONS`` shrink the registry for a quick look,
``BENCH_ARTIFACT_BYTES`` sets the size of each model's model file (64 KiB);
PostgreSQL on 127.0.0.1:5432 is used when it answers (database ``BENCH_DATABASE``, by default
``portal_bench``, recreated).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import postgres_reachable

ROOT = Path(__file__).resolve().parent.parent
MODELS = int(os.environ.get("BENCH_MODELS", "1000"))
VERSIONS = int(os.environ.get("BENCH_VERSIONS", "10"))
ARTIFACT_BYTES = int(os.environ.get("BENCH_ARTIFACT_BYTES", str(64 * 1024)))
DATABASE = os.environ.get("BENCH_DATABASE", "portal_bench")
DETAIL_THREADS = 4
TENANT = "bench-unit"
LATENCY_CALLS = 60


def _database_url(folder: Path) -> str:
    if not postgres_reachable():
        return f"sqlite:///{folder / 'portal-bench.db'}"
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"postgres://postgres@127.0.0.1:5432/{DATABASE}"


def _populate_mlflow(db_uri: str) -> None:
    """Write the registry straight into MLflow's SQL store (minutes faster than over REST)."""
    from mlflow.entities.model_registry import RegisteredModelTag
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(db_uri)
    for index in range(MODELS):
        name = f"bench-model-{index:05d}"
        store.create_registered_model(name, tags=[RegisteredModelTag("portal.tenant", TENANT)])
        for _ in range(VERSIONS):
            store.create_model_version(
                name, source=f"mlflow-artifacts:/0/bench/{name}", run_id=None
            )


def _write_artifacts(root: Path) -> None:
    """Each model's artifact folder, as MLflow's artifact store keeps it: an ``MLmodel``, a model
    file of ``ARTIFACT_BYTES`` and a requirements file (every version of a model shares it)."""
    for index in range(MODELS):
        folder = root / "0" / "bench" / f"bench-model-{index:05d}"
        folder.mkdir(parents=True)
        (folder / "MLmodel").write_text(
            "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
            'signature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n'
        )
        (folder / "model.skops").write_bytes(os.urandom(ARTIFACT_BYTES))
        (folder / "requirements.txt").write_text("scikit-learn\n")


def _bare_artifact_pass(url: str) -> float:
    """Stream every version's artifact files once over MLflow's artifact API (listing each
    folder, then reading each file in 1 MiB chunks), from as many threads as the details pass."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    base = f"{url}/api/2.0/mlflow-artifacts/artifacts"
    local = threading.local()

    def stream(index: int) -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        path = f"0/bench/bench-model-{index % MODELS:05d}"
        listing = session.get(base, params={"path": path}, timeout=30)
        listing.raise_for_status()
        read = 0
        for entry in listing.json().get("files", []):
            with session.get(f"{base}/{path}/{entry['path']}", stream=True, timeout=30) as answer:
                answer.raise_for_status()
                for chunk in answer.iter_content(1024 * 1024):
                    read += len(chunk)
        return read

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=DETAIL_THREADS) as pool:
        total = sum(pool.map(stream, range(MODELS * VERSIONS)))
    assert total >= MODELS * VERSIONS * ARTIFACT_BYTES, total
    return time.perf_counter() - started


def _bare_client_pass(url: str) -> tuple[float, int]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    started = time.perf_counter()
    versions, token = 0, None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        for model in page:
            versions += len(client.search_model_versions(f"name = '{model.name}'"))
        token = page.token
        if not token:
            return time.perf_counter() - started, versions


def _median_ms(call, count: int = LATENCY_CALLS) -> float:
    for _ in range(5):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    database_url = _database_url(folder)
    os.environ.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,testserver",
        SECURE_SSL_REDIRECT="false",
        PORTAL_VAR_DIR=str(folder),
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    sys.path.insert(0, str(ROOT))
    from tests.mlflow_server import MlflowServer

    print(
        f"registry: {MODELS} models x {VERSIONS} versions; portal database: {database_url.split('://')[0]}"
    )
    started = time.perf_counter()
    mlflow_db = folder / "mlflow" / "mlflow.db"
    mlflow_db.parent.mkdir(parents=True)
    _populate_mlflow(f"sqlite:///{mlflow_db}")
    _write_artifacts(folder / "mlflow" / "artifacts")
    print(f"  populated MLflow in {time.perf_counter() - started:.0f} s")
    server = MlflowServer(folder / "mlflow").start()
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    web = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from rest_framework.test import APIClient

        from portal.catalog.mlflow_adapter import MlflowRegistry
        from portal.catalog.models import SyncRun
        from portal.catalog.sync import registry_sync, version_details_sync
        from portal.core.audit import Actor
        from tenants import services
        from tenants.models import User
        from tenants.scoping import tenant_scope

        call_command("migrate", verbosity=0)
        actor = Actor.system("benchmark")
        tenant = services.tenant_create(actor=actor, slug=TENANT, name="Benchmark unit")

        bare_seconds, bare_versions = _bare_client_pass(server.url)
        stream_seconds = _bare_artifact_pass(server.url)
        registry = MlflowRegistry(server.url)
        with tenant_scope(tenant):
            started = time.perf_counter()
            full = registry_sync(tenant=tenant, registry=registry, details=False)
            full_seconds = time.perf_counter() - started
            started = time.perf_counter()
            resync = registry_sync(tenant=tenant, registry=registry, details=False)
            resync_seconds = time.perf_counter() - started
            details_run = SyncRun.objects.create(
                tenant=tenant, trigger="benchmark", status="succeeded"
            )
            started = time.perf_counter()
            details_count = version_details_sync(run=details_run, registry=registry)
            details_seconds = time.perf_counter() - started
            if connection.vendor == "postgresql":
                # What autovacuum does after a change this size (PostgreSQL on this kind of
                # machine runs with autovacuum off): the list is measured on current statistics.
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            user = User.objects.create_user("bench-reader", password=secrets.token_urlsafe(16))
            services.membership_add(actor=actor, tenant=tenant, user=user, role="viewer")
            _, token = services.token_create(
                actor=actor,
                tenant=tenant,
                name="bench",
                scopes=["read"],
                expires_at=None,
                created_by=None,
            )
        assert full is not None and resync is not None
        assert full.versions_created == bare_versions == MODELS * VERSIONS, (
            full.versions_created,
            bare_versions,
        )
        assert resync.writes == 0 and resync.models_changed == 0

        queries = {}
        client = APIClient()
        client.force_authenticate(user=user)
        for size in (10, 100, 500):
            with CaptureQueriesContext(connection) as captured:
                answer = client.get(f"/api/v1/tenants/{TENANT}/models/", {"page_size": size})
            assert answer.status_code == 200 and len(answer.json()["results"]) == min(size, MODELS)
            queries[size] = len(captured.captured_queries)

        port = _free_port()
        web = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=dict(os.environ),
        )
        import requests

        session = requests.Session()
        portal_url = f"http://127.0.0.1:{port}/api/v1/tenants/{TENANT}/models/?page_size=100"
        headers = {"Authorization": f"Bearer {token}"}
        _wait_until(lambda: session.get(portal_url, headers=headers, timeout=5).status_code == 200)
        mlflow_url = f"{server.url}/api/2.0/mlflow/registered-models/search?max_results=100"
        portal_ms = _median_ms(
            lambda: session.get(portal_url, headers=headers, timeout=10).raise_for_status()
        )
        mlflow_ms = _median_ms(lambda: session.get(mlflow_url, timeout=10).raise_for_status())
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=20)
        server.stop()

    results = {
        "models": MODELS,
        "versions": MODELS * VERSIONS,
        "bare_client_pass_s": round(bare_seconds, 2),
        "full_registry_sync_s": round(full_seconds, 2),
        "full_sync_ratio": round(full_seconds / bare_seconds, 2),
        "no_change_resync_s": round(resync_seconds, 3),
        "resync_share_of_full": round(resync_seconds / full_seconds, 4),
        "details_pass_s": round(details_seconds, 2),
        "details_versions": details_count,
        "artifact_stream_pass_s": round(stream_seconds, 2),
        "artifact_bytes_per_version": ARTIFACT_BYTES,
        "list_api_median_ms": round(portal_ms, 1),
        "mlflow_search_median_ms": round(mlflow_ms, 1),
        "list_queries_by_page_size": queries,
    }
    print(f"  bare MlflowClient pass:      {bare_seconds:7.2f} s  ({bare_versions} versions)")
    print(
        f"  portal full registry sync:   {full_seconds:7.2f} s  = {full_seconds / bare_seconds:.2f}x the bare pass (target <= 1.5x)"
    )
    print(
        f"  no-change re-sync:           {resync_seconds:7.3f} s  = {100 * resync_seconds / full_seconds:.1f}% of the full sync (target <= 5%)"
    )
    print(
        f"  details pass (first sight):  {details_seconds:7.2f} s  for {details_count} versions, {DETAIL_THREADS} threads"
    )
    print(
        f"  bare artifact stream pass:   {stream_seconds:7.2f} s  (every version's files read once, "
        f"{ARTIFACT_BYTES // 1024} KiB model file, {DETAIL_THREADS} threads)"
    )
    print(
        f"  catalog list API, 100/page:  {portal_ms:7.1f} ms median vs MLflow search {mlflow_ms:.1f} ms (target: at most MLflow's)"
    )
    print(f"  list SQL queries by page size: {queries} (target: constant)")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "registry.json").write_text(json.dumps(results, indent=2))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: S110 (the server is still starting)
            pass
        time.sleep(0.3)
    raise RuntimeError("the portal did not start")


if __name__ == "__main__":
    main()
