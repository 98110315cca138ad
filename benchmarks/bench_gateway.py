"""The inference gateway against ``mlflow models serve`` on the same model, on loopback.

Set up in one run, in a database of its own (``portal_bench_gateway``, dropped and made again):
a real MLflow server, a scikit-learn model logged to it and registered under a tenant, synced,
classified minimal risk, a ``predict`` and a ``deploy`` token, and a staging deployment rolled out
by the real serving runtime (``ServingRuntime`` in a thread, ``SERVING_WORKERS`` = W).

Measured, for each worker count W (``BENCH_GATEWAY_WORKERS``, default ``1``):
- the direct peer: ``mlflow models serve`` on the runtime's copy of the same model, W workers;
- the gateway: ``gunicorn portal.wsgi`` with W workers (and ``BENCH_GATEWAY_THREADS`` threads
  each, as ``make run`` and the Docker image run it), capture and metering on, in front of the
  runtime's model server of the same model with W workers;
- a bounded closed-loop load: ``BENCH_GATEWAY_CLIENTS`` clients (default 6), each with its own
  keep-alive connection, sending the same 4-row ``dataframe_split`` payload for
  ``BENCH_GATEWAY_SECONDS`` (default 5) after a 1 s warm-up, direct then gateway,
  ``BENCH_GATEWAY_ROUNDS`` times (default 5); medians of requests per second and of the median
  and p95 latency, and the CPU time per request of each process (from /proc); also one client
  alone (no queueing) for the added latency of a single call;
- afterwards, the gateway's captured requests and ``GatewayMinute`` counters against the
  requests sent, and the captures it dropped.

Then the rollback: a second version (answering 2.0 instead of 1.0) goes live, the rollback is
POSTed to the API through the same gunicorn server with a ``deploy`` token, and the gateway is
polled every 50 ms (a new connection each time, so every worker is asked) until it answers with
the old version's predictions and keeps doing so for two seconds.

Targets: gateway at least 0.8x the direct throughput, at most 5 ms added median latency, and a
rollback under 5 s. The per-token rate limit is raised for the run (``GATEWAY_RATE_LIMIT``) so
that it checks every request without refusing any. Needs PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import postgres_reachable, production_env

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "portal_bench_gateway"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
TENANT = "bench-gateway"
MODEL = "scorer"
WORKERS = [int(w) for w in os.environ.get("BENCH_GATEWAY_WORKERS", "1").split(",") if w.strip()]
THREADS = int(os.environ.get("BENCH_GATEWAY_THREADS", "4"))
CLIENTS = int(os.environ.get("BENCH_GATEWAY_CLIENTS", "6"))
SECONDS = float(os.environ.get("BENCH_GATEWAY_SECONDS", "5"))
WARMUP = 1.0
ROUNDS = int(os.environ.get("BENCH_GATEWAY_ROUNDS", "5"))
SINGLE_SECONDS = 2.0
PAYLOAD_ROWS = 4
RATIO_TARGET = 0.8
ADDED_MS_TARGET = 5.0
ROLLBACK_TARGET = 5.0


def _fresh_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except Exception:  # noqa: S110 (still starting)
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what}")


# --- HTTP -----------------------------------------------------------------------------------------


@dataclass
class Target:
    """Where a load sends its requests: a port, a path and headers."""

    name: str
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    sent: int = 0  # every request sent, warm-up and probes included
    sent_lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, n: int = 1) -> None:
        with self.sent_lock:
            self.sent += n


def _post(conn: http.client.HTTPConnection, target: Target, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", target.path, body=body, headers=target.headers)
    response = conn.getresponse()
    data = response.read()
    if response.will_close:
        conn.close()
    return response.status, data


def _once(target: Target, body: bytes, *, timeout: float = 10) -> tuple[int, bytes]:
    """One request on a connection of its own (so each gunicorn worker gets its turn); only
    answered ones are counted (a refusal before the gateway knows the revision is not metered)."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=timeout)
    try:
        status, data = _post(conn, target, body)
    finally:
        conn.close()
    if status == 200:
        target.count()
    return status, data


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU per request, by process
    busy_cores: float = 0.0  # the whole machine's busy CPUs on average, ours and others'

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=20)[-1]


def _load(
    target: Target,
    body: bytes,
    *,
    clients: int,
    seconds: float,
    cpu: dict[str, Callable[[], float]] | None = None,
) -> LoadResult:
    """A closed loop: ``clients`` threads, each sending its next request when the last returns;
    ``cpu`` names CPU meters read before and after (per request sent, warm-up included)."""
    cpu = cpu or {}
    cpu_before = {name: meter() for name, meter in cpu.items()}
    sent_before = target.sent
    start_at = time.perf_counter() + 0.2
    measure_from = start_at + WARMUP
    stop_at = measure_from + seconds
    per_thread: list[tuple[int, int, list[float]]] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        latencies: list[float] = []
        done = errors = sent = 0
        try:
            while time.perf_counter() < start_at:
                time.sleep(0.001)
            while True:
                began = time.perf_counter()
                if began >= stop_at:
                    break
                sent += 1
                status, _ = _post(conn, target, body)
                ended = time.perf_counter()
                if began >= measure_from and ended <= stop_at:
                    done += 1
                    errors += status != 200
                    latencies.append((ended - began) * 1000)
        except BaseException as error:
            failures.append(error)
        finally:
            conn.close()
            target.count(sent)
            with lock:
                per_thread.append((done, errors, latencies))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    if failures:
        raise RuntimeError(f"{target.name}: a client failed: {failures[0]!r}")
    latencies = [ms for _, _, lat in per_thread for ms in lat]
    sent = max(1, target.sent - sent_before)
    elapsed = WARMUP + seconds + 0.2
    cpu_after = {name: meter() for name, meter in cpu.items()}
    busy = {name: cpu_after[name] - cpu_before[name] for name in cpu}
    return LoadResult(
        requests=sum(d for d, _, _ in per_thread),
        errors=sum(e for _, e, _ in per_thread),
        seconds=seconds,
        latencies_ms=latencies,
        cpu_ms={name: seconds * 1000 / sent for name, seconds in busy.items()},
        busy_cores=busy.get("whole machine", 0.0) / elapsed,
    )


# --- CPU time -------------------------------------------------------------------------------------


def _tree_cpu_seconds(root: int) -> float:
    """User and system CPU seconds of a process and its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    ticks, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            ticks += int(stats[pid][11]) + int(stats[pid][12])
        todo.extend(children.get(pid, []))
    return ticks / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine, whoever used them (the figures above are ours)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _cpu_meters(processes: dict[str, int]) -> dict[str, Callable[[], float]]:
    if not Path("/proc/self/stat").exists():
        return {}
    meters: dict[str, Callable[[], float]] = {
        name: (lambda pid=pid: _tree_cpu_seconds(pid)) for name, pid in processes.items()
    }
    meters["load client"] = _own_cpu_seconds
    meters["whole machine"] = _machine_cpu_seconds
    return meters


# --- processes ------------------------------------------------------------------------------------


class Processes:
    """Every process this benchmark starts, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.items: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], *, log: Path, **options) -> subprocess.Popen:
        with open(log, "ab") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **options,
            )
        self.items.append((name, process))
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, 15)
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.items = [(n, p) for n, p in self.items if p is not process]

    def stop_all(self) -> None:
        for _, process in reversed(list(self.items)):
            self.stop(process)


# --- the portal side ------------------------------------------------------------------------------


@dataclass
class Setup:
    tenant: object
    user: object
    predict_token: str
    deploy_token: str
    payload: bytes
    counted: dict[str, int] = field(
        default_factory=lambda: {"minute_requests": 0, "captured_requests": 0}
    )


def _setup(mlflow_url: str) -> Setup:
    from mlflow import MlflowClient
    from rest_framework.test import APIClient

    from governance.classification import MINIMAL_RISK_ANSWERS
    from portal.catalog.sync import registry_sync
    from portal.core.audit import Actor
    from portal.deployments.tests.serving import credit_features, log_constant_regressor
    from tenants import services
    from tenants.models import User
    from tenants.scoping import tenant_scope

    actor = Actor.system("benchmark")
    tenant = services.tenant_create(actor=actor, slug=TENANT, name="Gateway benchmark")
    user = User.objects.create_user("bench-engineer", password=secrets.token_urlsafe(16))

    client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
    client.create_registered_model(MODEL, tags={"portal.tenant": TENANT})
    for answer in (1.0, 2.0):
        run_id, model_id = log_constant_regressor(mlflow_url, answer)
        client.create_model_version(
            MODEL, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
        )
    with tenant_scope(tenant):
        services.membership_add(actor=actor, tenant=tenant, user=user, role="engineer")
        registry_sync(tenant=tenant)
        _, predict_token = services.token_create(
            actor=actor,
            tenant=tenant,
            name="bench-predict",
            scopes=["predict"],
            expires_at=None,
            created_by=user,
        )
        _, deploy_token = services.token_create(
            actor=actor,
            tenant=tenant,
            name="bench-deploy",
            scopes=["deploy"],
            expires_at=None,
            created_by=user,
        )
    api = APIClient()
    api.force_authenticate(user=user)
    answer = api.post(
        f"/api/v1/tenants/{TENANT}/models/{MODEL}/classification/",
        {"answers": MINIMAL_RISK_ANSWERS},
        format="json",
    )
    assert answer.status_code in (200, 201), answer.content
    frame = credit_features(PAYLOAD_ROWS)
    payload = json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)}).encode()
    return Setup(tenant, user, predict_token, deploy_token, payload)


def _request_deployment(setup: Setup, version: int) -> int:
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user=setup.user)
    answer = api.post(
        f"/api/v1/tenants/{TENANT}/deployments/",
        {
            "model": MODEL,
            "version": version,
            "environment": "staging",
            "instance_type": "cpu.small",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def _deployment(pk: int):
    from portal.deployments.models import Deployment

    return Deployment.objects.dangerously_across_tenants().get(pk=pk)


def _wait_live(pk: int, seconds: float = 150):
    def live():
        deployment = _deployment(pk)
        if deployment.state in ("failed", "cancelled", "rejected"):
            raise RuntimeError(f"deployment {pk} is {deployment.state}: {deployment.serving}")
        return deployment if deployment.state == "live" else None

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = live()
        if found:
            return found
        time.sleep(0.2)
    raise RuntimeError(f"deployment {pk} did not go live: {_deployment(pk).serving}")


class Runtime:
    """The serving runtime in a thread of this process, with W workers per model server."""

    def __init__(self, workers: int) -> None:
        from portal.deployments.runtime import ServingRuntime

        self.runtime = ServingRuntime(workers=workers)
        self.thread = threading.Thread(target=self.runtime.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.runtime.stop()
        self.thread.join(timeout=60)


def _counts(deployment_ids: list[int]) -> dict[str, int]:
    from django.db.models import Count, Sum

    from portal.deployments.models import GatewayMinute
    from portal.monitoring.models import CapturedRequest

    minutes = (
        GatewayMinute.objects.dangerously_across_tenants()
        .filter(deployment_id__in=deployment_ids)
        .aggregate(
            requests=Sum("requests"),
            errors=Sum("errors"),
            rows=Sum("input_rows"),
            captured=Sum("captured"),
            dropped=Sum("dropped"),
        )
    )
    captures = (
        CapturedRequest.objects.dangerously_across_tenants()
        .filter(deployment_id__in=deployment_ids)
        .aggregate(requests=Count("id"), rows=Sum("row_count"))
    )
    return {
        "minute_requests": minutes["requests"] or 0,
        "minute_errors": minutes["errors"] or 0,
        "minute_rows": minutes["rows"] or 0,
        "minute_captured_rows": minutes["captured"] or 0,
        "minute_dropped_rows": minutes["dropped"] or 0,
        "captured_requests": captures["requests"] or 0,
        "captured_rows": captures["rows"] or 0,
    }


# --- one worker count -----------------------------------------------------------------------------


def _start_direct(
    procs: Processes, model: Path, workers: int, folder: Path
) -> tuple[Target, subprocess.Popen]:
    from portal.deployments.runtime import server_environment

    home = folder / f"direct-{workers}"
    home.mkdir(parents=True, exist_ok=True)
    copy = home / "model"
    shutil.copytree(model, copy)
    port = _free_port()
    process = procs.start(
        f"direct-{workers}",
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            str(copy),
            "--env-manager",
            "local",
            "--workers",
            str(workers),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
        ],
        log=home / "server.log",
        cwd=home,
        env=server_environment(home),
    )
    return Target("direct", port, "/invocations", {"Content-Type": "application/json"}), process


def _start_gateway(
    procs: Processes, workers: int, folder: Path, token: str
) -> tuple[Target, subprocess.Popen]:
    port = _free_port()
    process = procs.start(
        f"gunicorn-{workers}",
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "portal.wsgi",
            "--workers",
            str(workers),
            "--threads",
            str(THREADS),
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(folder / f"gunicorn-{workers}-access.log"),
            "--log-level",
            "warning",
        ],
        log=folder / f"gunicorn-{workers}.log",
        cwd=ROOT,
        env=dict(os.environ),
    )
    target = Target(
        "gateway",
        port,
        f"/serve/{TENANT}/{MODEL}-staging/invocations",
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    return target, process


def _answers(target: Target, body: bytes) -> list[float] | None:
    status, data = _once(target, body)
    return json.loads(data)["predictions"] if status == 200 else None


def _measure(
    direct: Target, gateway: Target, body: bytes, cpu: dict[str, dict[str, Callable[[], float]]]
) -> dict:
    rounds: dict[str, list[LoadResult]] = {"direct": [], "gateway": []}
    for number in range(1, ROUNDS + 1):
        for target in (direct, gateway):
            result = _load(target, body, clients=CLIENTS, seconds=SECONDS, cpu=cpu[target.name])
            if result.errors:
                raise RuntimeError(f"{target.name}: {result.errors} answers were not 200")
            rounds[target.name].append(result)
            print(
                f"    round {number} {target.name:7s}: {result.rps:7.1f} req/s, median "
                f"{result.median_ms:6.2f} ms, p95 {result.p95_ms:6.2f} ms; machine busy "
                f"{result.busy_cores:.2f} of {os.cpu_count()} CPUs",
                flush=True,
            )
    single = {t.name: _load(t, body, clients=1, seconds=SINGLE_SECONDS) for t in (direct, gateway)}
    figures = {}
    for name, results in rounds.items():
        figures[name] = {
            "rps": statistics.median(r.rps for r in results),
            "median_ms": statistics.median(r.median_ms for r in results),
            "p95_ms": statistics.median(r.p95_ms for r in results),
            "single_median_ms": single[name].median_ms,
            "single_p95_ms": single[name].p95_ms,
            "cpu_ms_per_request": {
                process: statistics.median(r.cpu_ms[process] for r in results)
                for process in results[0].cpu_ms
            },
        }
    figures["ratio"] = figures["gateway"]["rps"] / figures["direct"]["rps"]
    figures["added_median_ms"] = figures["gateway"]["median_ms"] - figures["direct"]["median_ms"]
    figures["added_single_median_ms"] = (
        figures["gateway"]["single_median_ms"] - figures["direct"]["single_median_ms"]
    )
    return figures


def _check_capture(gateway: Target, deployment_ids: list[int], before: int) -> dict[str, int]:
    """Wait for the gateway's flushes, then compare what it stored with what was sent."""
    expected = before + gateway.sent

    def settled():
        counts = _counts(deployment_ids)
        return counts if counts["minute_requests"] >= expected else None

    try:
        counts = _wait_until(settled, 15, "the gateway's counters")
    except RuntimeError:
        counts = _counts(deployment_ids)
    time.sleep(1.5)  # one more flush interval: anything beyond the expected count shows up
    counts = _counts(deployment_ids)
    counts["sent"] = gateway.sent
    return counts


def _rollback(setup: Setup, gateway: Target, first_id: int) -> dict:
    second_id = _request_deployment(setup, 2)
    _wait_live(second_id)
    _wait_until(
        lambda: all(_answers(gateway, setup.payload) == [2.0] * PAYLOAD_ROWS for _ in range(10)),
        30,
        "the gateway to answer with version 2",
    )
    old = [1.0] * PAYLOAD_ROWS
    rollback = Target(
        "rollback",
        gateway.port,
        f"/api/v1/tenants/{TENANT}/deployments/{second_id}/rollback/",
        {"Content-Type": "application/json", "Authorization": f"Bearer {setup.deploy_token}"},
    )
    started = time.perf_counter()
    status, data = _once(rollback, json.dumps({"reason": "benchmark"}).encode())
    answered = time.perf_counter() - started
    if status != 200 or json.loads(data)["revision"] != 1:
        raise RuntimeError(f"the rollback answered {status}: {data[:300]!r}")
    last_new = started
    first_old_streak = None
    polls = 0
    while time.perf_counter() - started < 20:
        sent_at = time.perf_counter()
        answers = _answers(gateway, setup.payload)
        polls += 1
        if answers != old:
            last_new, first_old_streak = sent_at, None
        elif first_old_streak is None:
            first_old_streak = sent_at
        if first_old_streak is not None and time.perf_counter() - first_old_streak >= 2.0:
            break
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - sent_at)))
    if first_old_streak is None:
        raise RuntimeError("the gateway never settled on the old version's answers")
    return {
        "rollback_api_s": answered,
        "rollback_s": first_old_streak - started,
        "last_new_answer_s": last_new - started,
        "polls": polls,
        "second_id": second_id,
    }


def _phase(procs, setup, folder, workers, first_id, runtime_holder, *, rollback: bool) -> dict:
    from portal.deployments.targets.base import TargetState

    if runtime_holder and runtime_holder[0].runtime.workers != workers:
        runtime_holder.pop().stop()
    if not runtime_holder:
        runtime_holder.append(Runtime(workers))
    runtime = runtime_holder[0].runtime

    def ready():
        server = runtime.servers.get(first_id)
        serving = _deployment(first_id).serving
        return (
            server is not None
            and server.state == TargetState.READY
            and serving.get("state") == TargetState.READY
            and serving.get("pid") == server.pid
        )

    _wait_until(ready, 150, f"the runtime's model server with {workers} worker(s)")
    model = runtime.servers[first_id].model_path
    direct, direct_process = _start_direct(procs, model, workers, folder)
    gateway, gateway_process = _start_gateway(procs, workers, folder, setup.predict_token)
    expected = [1.0] * PAYLOAD_ROWS
    _wait_until(lambda: _answers(direct, setup.payload) == expected, 120, "the direct server")
    _wait_until(lambda: _answers(gateway, setup.payload) == expected, 120, "the gateway")
    print(f"  W={workers}: {CLIENTS} clients, {SECONDS:.0f} s per run after {WARMUP:.0f} s warm-up")
    model_pid = runtime.servers[first_id].pid or 0
    cpu = {
        "direct": _cpu_meters({"model server": direct_process.pid}),
        "gateway": _cpu_meters({"gateway": gateway_process.pid, "model server": model_pid}),
    }
    figures = _measure(direct, gateway, setup.payload, cpu)
    procs.stop(direct_process)
    before = setup.counted
    counts = _check_capture(gateway, [first_id], before["minute_requests"])
    figures["capture"] = counts
    figures["capture"]["sent_this_phase"] = counts["sent"]
    figures["capture"]["stored_this_phase"] = (
        counts["captured_requests"] - before["captured_requests"]
    )
    figures["capture"]["metered_this_phase"] = counts["minute_requests"] - before["minute_requests"]
    setup.counted = counts
    if rollback:
        figures["rollback"] = _rollback(setup, gateway, first_id)
    procs.stop(gateway_process)
    return figures


def _report(workers: int, f: dict) -> None:
    d, g, c = f["direct"], f["gateway"], f["capture"]
    print(f"  W={workers} medians of {ROUNDS} rounds, {CLIENTS} clients:")
    print(
        f"    direct  mlflow models serve: {d['rps']:7.1f} req/s, median {d['median_ms']:.2f} ms, "
        f"p95 {d['p95_ms']:.2f} ms; one client: median {d['single_median_ms']:.2f} ms"
    )
    print(
        f"    gateway gunicorn + capture:  {g['rps']:7.1f} req/s, median {g['median_ms']:.2f} ms, "
        f"p95 {g['p95_ms']:.2f} ms; one client: median {g['single_median_ms']:.2f} ms"
    )
    if g["cpu_ms_per_request"]:
        print(
            "    CPU ms per request: direct: "
            + ", ".join(f"{k} {v:.2f}" for k, v in d["cpu_ms_per_request"].items())
            + "; through the gateway: "
            + ", ".join(f"{k} {v:.2f}" for k, v in g["cpu_ms_per_request"].items())
        )
    print(
        f"    ratio gateway / direct: {f['ratio']:.2f}x (target at least {RATIO_TARGET}x): "
        + ("met" if f["ratio"] >= RATIO_TARGET else "MISSED")
    )
    verdicts = [
        "met" if f[key] <= ADDED_MS_TARGET else "MISSED"
        for key in ("added_median_ms", "added_single_median_ms")
    ]
    print(
        f"    added median latency (target at most {ADDED_MS_TARGET:.0f} ms): "
        f"{f['added_median_ms']:.2f} ms under the load ({verdicts[0]}), "
        f"{f['added_single_median_ms']:.2f} ms for one client alone ({verdicts[1]})"
    )
    sent, stored, metered = c["sent_this_phase"], c["stored_this_phase"], c["metered_this_phase"]
    print(
        f"    capture: {sent} requests sent through the gateway in this phase, "
        f"{metered} metered in GatewayMinute, {stored} captured requests stored; in all "
        f"{c['captured_rows']} captured rows vs {c['minute_captured_rows']} counted, "
        f"{c['minute_dropped_rows']} rows dropped, {c['minute_errors']} errors: "
        + (
            "match"
            if stored == metered == sent
            and c["captured_rows"] == c["minute_captured_rows"]
            and not c["minute_dropped_rows"]
            else "MISMATCH"
        )
    )
    if "rollback" in f:
        r = f["rollback"]
        print(
            f"    rollback: the API answered in {r['rollback_api_s'] * 1000:.0f} ms; the gateway "
            f"answered only with the old version from {r['rollback_s']:.2f} s on "
            f"({r['polls']} polls at 50 ms; target under {ROLLBACK_TARGET:.0f} s): "
            + ("met" if r["rollback_s"] < ROLLBACK_TARGET else "MISSED")
        )


def run(folder: Path) -> dict:
    import django

    from tests.mlflow_server import MlflowServer

    mlflow = MlflowServer(folder / "mlflow").start()
    os.environ["MLFLOW_TRACKING_URI"] = mlflow.url
    procs = Processes()
    runtime_holder: list[Runtime] = []
    results: dict = {}
    try:
        django.setup()
        from django.core.management import call_command

        from portal.celery import app

        app.conf.task_always_eager = True
        began = time.perf_counter()
        call_command("migrate", verbosity=0)
        setup = _setup(mlflow.url)
        runtime_holder.append(Runtime(WORKERS[0]))
        first_id = _request_deployment(setup, 1)
        _wait_live(first_id)
        print(f"  set up and live in {time.perf_counter() - began:.0f} s", flush=True)
        for index, workers in enumerate(WORKERS):
            figures = _phase(
                procs,
                setup,
                folder,
                workers,
                first_id,
                runtime_holder,
                rollback=index == len(WORKERS) - 1,
            )
            results[f"W={workers}"] = figures
            _report(workers, figures)
    finally:
        procs.stop_all()
        for runtime in runtime_holder:
            runtime.stop()
        mlflow.stop()
    return results


def main() -> None:
    if not postgres_reachable():
        print("bench_gateway needs PostgreSQL on 127.0.0.1:5432; skipped.")
        return
    _fresh_database()
    folder = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    os.environ.update(
        DATABASE_URL=DATABASE_URL,
        **production_env(folder),
        SERVING_WORKERS=str(WORKERS[0]),
        CELERY_TASK_ALWAYS_EAGER="true",
        GATEWAY_RATE_LIMIT="100000000/min",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    print(
        f"gateway vs mlflow models serve: workers {WORKERS}, {THREADS} gunicorn threads, "
        f"{CLIENTS} clients, {PAYLOAD_ROWS}-row dataframe_split"
    )
    started = time.perf_counter()
    results = run(folder)
    print(f"  whole benchmark: {time.perf_counter() - started:.0f} s")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gateway.json").write_text(json.dumps(results, indent=2, default=str))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
