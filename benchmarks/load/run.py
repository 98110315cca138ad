"""The whole load run: a fresh database, the seed, gunicorn, the load, the report and its file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import postgres_reachable
from benchmarks.load.processes import environment, free_port, fresh_database, wait_for
from benchmarks.load.report import report
from benchmarks.load.settings import (
    ENDPOINTS,
    MODELS,
    MONTHS,
    P95_TARGET_MS,
    PROBE_SHARE,
    ROOT,
    SECONDS,
    SHORT,
    TENANTS,
    THINK,
    THREADS,
    USERS,
    WARMUP,
    WORKERS,
)
from benchmarks.load.traffic import run_load


def main() -> None:
    if not postgres_reachable():
        print("bench_load needs PostgreSQL on 127.0.0.1:5432; skipped.")
        return
    sys.path.insert(0, str(ROOT))
    fresh_database()
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = environment(folder)
    plan_path = folder / "plan.json"
    print(
        f"load: {TENANTS} units x {MODELS} models, {ENDPOINTS} endpoints, {MONTHS} months; "
        f"{USERS} users for {SECONDS:.0f} s" + (" (short mode)" if SHORT else "")
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"from benchmarks.load.seed import seed; seed({str(plan_path)!r})"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    plan = json.loads(plan_path.read_text())
    port = free_port()
    log = folder / "gunicorn.log"
    with open(log, "ab") as output:
        gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                "--threads",
                str(THREADS),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(port, gunicorn)
        results = run_load(plan, port, gunicorn.pid)
    finally:
        if gunicorn.poll() is None:
            os.killpg(gunicorn.pid, 15)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, 9)
                gunicorn.wait(timeout=10)
    o = results["overall"]
    results["verdicts"] = {
        "p95": o["p95_ms"] <= P95_TARGET_MS,
        "errors": o["errors"] == 0,
        "leaks": o["leaks"] == 0,
    }
    results["passed"] = all(results["verdicts"].values())
    results["setup"] = {
        "short": SHORT,
        "users": USERS,
        "seconds": SECONDS,
        "warmup_s": WARMUP,
        "think_s": list(THINK),
        "gunicorn_workers": WORKERS,
        "gunicorn_threads": THREADS,
        "probe_share": PROBE_SHARE,
        "data": plan["counts"],
        "seed_s": plan["seed_seconds"],
        "roles": dict(Counter(u["kind"] for u in plan["users"])),
    }
    results["profile"] = plan["profile"]
    report(plan, results)
    if not results["failures"] and results["overall"]["errors"]:
        print("  gunicorn log tail:\n" + log.read_text()[-3000:])
    print(f"  whole benchmark: {time.perf_counter() - started:.0f} s")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
