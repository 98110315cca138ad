"""The inventory across units on 10,000 registered models, on PostgreSQL.

Data (seeded, in a database of its own, ``portal_bench_inventory``, dropped and made again): 8
units and 10,000 registered models spread over them, each with one or two versions, and, in
proportions a platform of that size could have: risk classifications (every fifth model not
classified), live deployments in production and staging, failed ones, open approval requests,
certifications of the high-risk models, cards of the newest versions, drift monitors of half the
production endpoints with two finished runs each, open and resolved incidents. Loaded with
``bulk_create``, then ``VACUUM ANALYZE``.

Timed, ``BENCH_INVENTORY_REQUESTS`` requests each (default 30) after a few to warm up, through
Django's test client in a process of its own that connects as the application's role
``portal_app``, which row-level security holds (as in production; the seed is loaded as the
owner before), signed in as a governance lead:
- the API's first page with the default filters (``GET /api/v1/inventory/``, 50 rows);
- a filtered and searched API page (``?tier=high&environment=production&q=model-01``);
- a filtered and sorted API page (``?verdict=drift&sort=incidents``);
- the inventory page (``/inventory/``, 25 rows) and the governance lead's home page.

Target: the median and the 95th percentile of each under 300 ms. Needs PostgreSQL on
127.0.0.1:5432 (user postgres).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchmarks import APP_PASSWORD, APP_ROLE, fresh_database, postgres_reachable

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "portal_bench_inventory"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
APP_URL = f"postgres://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:5432/{DATABASE}"
TENANTS = 8
MODELS = 10_000
REQUESTS = int(os.environ.get("BENCH_INVENTORY_REQUESTS", "30"))
WARM_UP = 5
TARGET_MS = 300.0
TIERS = ("high", "limited", "minimal", "limited", "")
CARD_STATES = ("draft", "in_review", "approved")
VERDICTS = ("ok", "warning", "drift", "ok")
TIMED = (
    ("API first page, default filters", "/api/v1/inventory/"),
    (
        "API filtered and searched",
        "/api/v1/inventory/?tier=high&environment=production&q=model-01",
    ),
    ("API filtered and sorted", "/api/v1/inventory/?verdict=drift&sort=incidents"),
    ("inventory page", "/inventory/"),
    ("governance lead's home", "/"),
)


def _populate() -> dict[str, int]:
    """The units, their models and everything the inventory shows about them."""
    from django.utils import timezone

    from governance.models import (
        ApprovalRequest,
        Incident,
        ModelCard,
        ModelCertification,
        PolicyVersion,
        RiskClassification,
    )
    from portal.catalog.models import ModelVersion, RegisteredModel
    from portal.deployments.models import Deployment
    from portal.monitoring.models import DriftRun, Monitor
    from tenants.models import PlatformRole, Tenant, User

    now = timezone.now()
    User.objects.create_user("lead", platform_role=PlatformRole.GOVERNANCE_LEAD)
    tenants = Tenant.objects.bulk_create(
        Tenant(slug=f"unit-{i}", name=f"Unit {i}", cost_center=f"CC-{i}") for i in range(TENANTS)
    )
    models = RegisteredModel.objects.dangerously_across_tenants().bulk_create(
        RegisteredModel(
            tenant=tenants[i % TENANTS],
            name=f"model-{i:05d}",
            risk_tier="prohibited" if i % 97 == 0 else TIERS[i % len(TIERS)],
        )
        for i in range(MODELS)
    )
    versions = ModelVersion.objects.dangerously_across_tenants().bulk_create(
        ModelVersion(tenant_id=m.tenant_id, model=m, version=v)
        for i, m in enumerate(models)
        for v in range(1, 3 if i % 2 else 2)
    )
    newest = {v.model_id: v for v in versions}  # the last one of each model is its newest
    RiskClassification.objects.dangerously_across_tenants().bulk_create(
        RiskClassification(
            tenant_id=m.tenant_id,
            model=m,
            answers={},
            tier=m.risk_tier,
            classifier_version="1",
            classified_by_label=f"person-{i % 17}",
            created_at=now - timedelta(days=days),
        )
        for i, m in enumerate(models)
        if m.risk_tier
        for days in ((30, 2) if i % 3 == 0 else (10,))
    )
    ModelCard.objects.dangerously_across_tenants().bulk_create(
        ModelCard(
            tenant_id=m.tenant_id,
            model_version=newest[m.pk],
            status=CARD_STATES[i % len(CARD_STATES)],
        )
        for i, m in enumerate(models)
        if i % 4 != 3
    )
    deployments = []
    for i, m in enumerate(models):
        version = newest[m.pk]
        if i % 3 != 2:
            deployments.append((i, "production", "live", version))
        if i % 5 == 0:
            deployments.append((i, "staging", "live", version))
        if i % 7 == 0:
            deployments.append((i, "production", "failed", version))
        if i % 11 == 0:
            deployments.append((i, "production", "retired", version))
    rows = Deployment.objects.dangerously_across_tenants().bulk_create(
        Deployment(
            tenant_id=version.tenant_id,
            name=f"ep-{i:05d}-{environment[:4]}-{state[:4]}",
            model_version=version,
            environment=environment,
            instance_type="cpu.small",
            state=state,
            traffic_weight=100 if state == "live" else 0,
            requested_by_label="bench",
        )
        for i, environment, state, version in deployments
    )
    live_production = [
        (i, d)
        for (i, env, state, _), d in zip(deployments, rows, strict=True)
        if env == "production" and state == "live"
    ]
    policy = PolicyVersion.objects.create(
        name="default", version=1, document="x", content_hash="x", source="bench"
    )
    ApprovalRequest.objects.dangerously_across_tenants().bulk_create(
        ApprovalRequest(
            tenant_id=d.tenant_id,
            deployment=d,
            model_version_id=d.model_version_id,
            policy_version=policy,
            risk_tier="high",
            state="pending",
            requested_by_label="bench",
            expires_at=now + timedelta(days=1 + i % 14),
        )
        for i, d in live_production
        if i % 10 == 0
    )
    ModelCertification.objects.dangerously_across_tenants().bulk_create(
        ModelCertification(
            tenant_id=m.tenant_id,
            model=m,
            certified_at=now - timedelta(days=300),
            due_at=now + timedelta(days=i % 120 - 30),
            state=("overdue", "due", "current", "current")[i % 4],
        )
        for i, m in enumerate(models)
        if m.risk_tier == "high"
    )
    monitors = Monitor.objects.dangerously_across_tenants().bulk_create(
        Monitor(
            tenant_id=d.tenant_id,
            endpoint=d.name,
            enabled=i % 9 != 0,
            created_by_label="bench",
        )
        for i, d in live_production
        if i % 2 == 0
    )
    by_endpoint = {(m.tenant_id, m.endpoint): m for m in monitors}
    DriftRun.objects.dangerously_across_tenants().bulk_create(
        DriftRun(
            tenant_id=d.tenant_id,
            deployment=d,
            monitor=by_endpoint[(d.tenant_id, d.name)],
            status="succeeded",
            drift_status=VERDICTS[(i + hours) % len(VERDICTS)],
            created_at=now - timedelta(hours=hours),
            finished_at=now - timedelta(hours=hours),
        )
        for i, d in live_production
        if (d.tenant_id, d.name) in by_endpoint
        for hours in (1, 2)
    )
    Incident.objects.dangerously_across_tenants().bulk_create(
        Incident(
            tenant_id=m.tenant_id,
            model=m,
            title=f"Incident on {m.name}",
            severity="sev3",
            status="open" if i % 20 == 0 else "resolved",
            opened_by_label="bench",
        )
        for i, m in enumerate(models)
        if i % 20 == 0 or i % 13 == 0
    )
    return {
        "models": len(models),
        "versions": len(versions),
        "deployments": len(rows),
        "monitors": len(monitors),
    }


def _time(client, url: str) -> list[float]:
    for _ in range(WARM_UP):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
    return times


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def seed() -> None:
    """Migrate and load the bench database as its owner (the migration grants ``portal_app``
    its rights), in a process whose Django connects as the application's role."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from portal.management.commands.migrate import connected_as_owner

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages' manifest
    with connected_as_owner("default"):
        counts = _populate()
        with connection.cursor() as cursor:
            # As autovacuum would have left a database in use (and not while the requests run).
            cursor.execute("VACUUM ANALYZE")
    print(
        f"loaded {TENANTS} units, {counts['models']:,} models, {counts['versions']:,} versions, "
        f"{counts['deployments']:,} deployments, {counts['monitors']:,} monitors "
        f"in {time.perf_counter() - began:.1f} s",
        flush=True,
    )


def run() -> None:
    """The timed requests, in a process whose Django connects as the application's role."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from tenants.models import User

    assert connection.settings_dict["USER"] == APP_ROLE
    client = Client()
    client.force_login(User.objects.get(username="lead"))
    body = client.get("/api/v1/inventory/").json()
    assert body["count"] == MODELS and len(body["results"]) == 50, body.get("count")
    missed = []
    for label, url in TIMED:
        times = _time(client, url)
        median, p95 = statistics.median(times), _p95(times)
        if p95 > TARGET_MS:
            missed.append(label)
        print(f"{label:34s} median {median:7.1f} ms, p95 {p95:7.1f} ms  ({url})", flush=True)
    connection.close()
    print(
        f"target: median and p95 under {TARGET_MS:.0f} ms for each, as the application's role "
        "(row-level security on): " + ("met" if not missed else f"MISSED for {', '.join(missed)}")
    )


def main() -> None:
    if not postgres_reachable():
        print("bench_inventory needs PostgreSQL on 127.0.0.1:5432; skipped.")
        return
    fresh_database(DATABASE)
    env = {
        **os.environ,
        "DATABASE_URL": APP_URL,
        "DATABASE_MIGRATE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-inventory-only-not-a-real-secret",
        "PORTAL_VAR_DIR": str(ROOT / "var" / "bench-inventory"),
        "LOG_LEVEL": "WARNING",  # not a line per cross-tenant read
    }
    for phase in ("seed", "run"):
        subprocess.run(
            [sys.executable, "-c", f"from benchmarks.bench_inventory import {phase}; {phase}()"],
            cwd=ROOT,
            env=env,
            check=True,
        )


if __name__ == "__main__":
    main()
