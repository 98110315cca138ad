"""A bounded load run against gunicorn on PostgreSQL: latency, errors and tenant isolation.

Set up in one run, in a database of its own (``portal_bench_load``, dropped and made again),
migrated as the tables' owner (``DATABASE_MIGRATE_URL``) while the portal connects as the role
``portal_app``, which row-level security holds (as ``docker-compose.yml`` runs it):

- ``BENCH_LOAD_TENANTS`` business units (default 8, slugs ``lt-alpha``, ``lt-bravo``, ...), each
  with ``BENCH_LOAD_MODELS`` catalog models (default 100, one to three versions each, classified
  minimal, limited or high risk, complete cards for the high-risk ones), ``BENCH_LOAD_ENDPOINTS``
  endpoints (default 60: live ones, some with a retired earlier revision, and requests waiting for
  an approval or decided), approvals opened by the policy in force, the last hour of gateway
  traffic, and ``BENCH_LOAD_MONTHS`` months of usage (default 24), each month closed into one
  statement per unit (all but the last two finalized). Everything a unit owns is named after its
  slug, so a response that shows another unit's data contains that unit's slug;
- the people: for every ``BENCH_LOAD_USERS`` virtual user (default 50) an account of its own, in
  turn a viewer, an engineer and an owner of unit A, the same of unit B, a client with a ``read``
  service token of A or B, a governance lead, finance and a platform admin.

Measured: ``gunicorn portal.wsgi`` as the image runs it (``BENCH_LOAD_WORKERS`` = 3 gthread
workers with ``BENCH_LOAD_THREADS`` = 4 threads each, DEBUG off), after logging every person in
through the login form. Each virtual user is a thread with its own keep-alive connection that
sends a request, reads the whole answer, waits a think time drawn uniformly from
``BENCH_LOAD_THINK`` seconds (default ``0.5-1.5``), and sends the next, for ``BENCH_LOAD_SECONDS``
(default 60) after a ``BENCH_LOAD_WARMUP`` (default 5 s) ramp-up. The requests follow each role's
mix over catalog, deployment, approval and statement pages and the API reads (``/api/v1/``, by
session or by bearer token); 3% of a unit member's requests ask for another unit's objects (by
its URL, or with another unit's id under the member's own unit) and must be refused (403/404).

Every answer of a unit member or a unit's token is searched for the other units' slugs (platform
roles see every unit by design). Reported per route, per route group and overall: requests,
throughput, median, p95 and p99 latency, errors and leaks; also the SQL queries and the
in-process time of one request of each route (Django test client, before the load), and the CPU
used by gunicorn, PostgreSQL's backends and the load client. Targets: p95 at most 300 ms, no
errors, no response containing another unit's data. Figures go to ``var/bench/load.json``.

``BENCH_LOAD_SHORT=1`` is a smoke test (3 units, a smaller catalog, 10 users, 10 s). Needs
PostgreSQL on 127.0.0.1:5432 (user postgres, trust authentication).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
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
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import postgres_reachable

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "portal_bench_load"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
OWNER_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
APP_ROLE = "portal_app"
APP_PASSWORD = os.environ.get("PORTAL_TEST_APP_PASSWORD", "portal_app")
APP_URL = f"postgres://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:5432/{DATABASE}"

SHORT = os.environ.get("BENCH_LOAD_SHORT", "").lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int, short: int) -> int:
    return int(os.environ.get(name, short if SHORT else default))


def _float(name: str, default: float, short: float) -> float:
    return float(os.environ.get(name, short if SHORT else default))


TENANTS = max(2, _int("BENCH_LOAD_TENANTS", 8, 3))
MODELS = _int("BENCH_LOAD_MODELS", 100, 30)
ENDPOINTS = min(MODELS, _int("BENCH_LOAD_ENDPOINTS", 60, 15))
MONTHS = _int("BENCH_LOAD_MONTHS", 24, 4)
USERS = _int("BENCH_LOAD_USERS", 50, 10)
SECONDS = _float("BENCH_LOAD_SECONDS", 60, 10)
WARMUP = _float("BENCH_LOAD_WARMUP", 5, 2)
THINK = tuple(float(x) for x in os.environ.get("BENCH_LOAD_THINK", "0.5-1.5").split("-", 1))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "3"))
THREADS = int(os.environ.get("BENCH_LOAD_THREADS", "4"))
PROBE_SHARE = 0.03
P95_TARGET_MS = 300.0
SEED = 20260901

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india")
WORDS += ("juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo")
KINDS = ("churn", "credit", "fraud", "leads", "pricing", "demand", "ranker", "intent", "vision")
INSTANCE_TYPES = ("cpu.small", "cpu.medium", "cpu.large", "gpu.t4")
CATALOG_PAGE = 25  # portal.paging.PAGE_SIZE, as the catalog and deployment lists show

# One virtual user in ten of each: (kind, unit) with unit 0 for A, 1 for B, None for platform roles.
ROLE_PATTERN: tuple[tuple[str, int | None], ...] = (
    ("viewer", 0),
    ("engineer", 0),
    ("owner", 0),
    ("viewer", 1),
    ("engineer", 1),
    ("owner", 1),
    ("token", None),  # A's token in odd tens, B's in even ones
    ("governance_lead", None),
    ("finance", None),
    ("platform_admin", None),
)


def slug_of(index: int) -> str:
    return f"lt-{WORDS[index]}"


# --- Routes ---------------------------------------------------------------------------------------
# A route builds one path from the seeded plan of a unit: ``unit`` is that unit's entry in the
# plan, ``rng`` the virtual user's random generator.

PathFor = Callable[[random.Random, dict], str]


def _model(rng: random.Random, unit: dict) -> list:
    return rng.choice(unit["models"])  # [name, [version numbers]]


def _version_path(rng: random.Random, unit: dict) -> str:
    name, versions = _model(rng, unit)
    return f"{name}/versions/{rng.choice(versions)}/"


def _page(rng: random.Random, count: int) -> int:
    return rng.randint(1, max(1, -(-count // CATALOG_PAGE)))


ROUTES: dict[str, tuple[str, PathFor]] = {
    # pages
    "catalog list page": (
        "catalog pages",
        lambda r, u: f"/t/{u['slug']}/models/?page={_page(r, len(u['models']))}",
    ),
    "catalog search page": (
        "catalog pages",
        lambda r, u: (
            f"/t/{u['slug']}/models/?q={r.choice(KINDS)}&risk_tier={r.choice(['', 'high', 'minimal'])}"
        ),
    ),
    "model page": ("catalog pages", lambda r, u: f"/t/{u['slug']}/models/{_model(r, u)[0]}/"),
    "version page": ("catalog pages", lambda r, u: f"/t/{u['slug']}/models/{_version_path(r, u)}"),
    "deployment list page": (
        "deployment pages",
        lambda r, u: f"/t/{u['slug']}/deployments/?page={_page(r, len(u['deployments']))}",
    ),
    "deployment page": (
        "deployment pages",
        lambda r, u: f"/t/{u['slug']}/deployments/{r.choice(u['deployments'])}/",
    ),
    "approval queue page": ("approval pages", lambda r, u: "/governance/approvals/"),
    "approval queue page, one unit": (
        "approval pages",
        lambda r, u: f"/governance/approvals/?state=&tenant={u['slug']}",
    ),
    "approval page": (
        "approval pages",
        lambda r, u: f"/governance/approvals/{r.choice(u['approvals'])}/",
    ),
    "costs page": ("statement pages", lambda r, u: f"/t/{u['slug']}/costs/"),
    "statement page": (
        "statement pages",
        lambda r, u: f"/t/{u['slug']}/statements/{r.choice(u['statements'])}/",
    ),
    "finance statements page": ("statement pages", lambda r, u: "/finance/statements/"),
    # API reads
    "models api": (
        "catalog API",
        lambda r, u: (
            f"/api/v1/tenants/{u['slug']}/models/?page={-(-_page(r, len(u['models'])) // 2)}"
        ),
    ),
    "model api": (
        "catalog API",
        lambda r, u: f"/api/v1/tenants/{u['slug']}/models/{_model(r, u)[0]}/",
    ),
    "versions api": (
        "catalog API",
        lambda r, u: f"/api/v1/tenants/{u['slug']}/models/{_model(r, u)[0]}/versions/",
    ),
    "deployments api": ("deployment API", lambda r, u: f"/api/v1/tenants/{u['slug']}/deployments/"),
    "deployment api": (
        "deployment API",
        lambda r, u: f"/api/v1/tenants/{u['slug']}/deployments/{r.choice(u['deployments'])}/",
    ),
    "approvals api": ("approval API", lambda r, u: "/api/v1/approvals/"),
    "approval api": ("approval API", lambda r, u: f"/api/v1/approvals/{r.choice(u['approvals'])}/"),
    "unit statements api": (
        "statement API",
        lambda r, u: f"/api/v1/tenants/{u['slug']}/statements/",
    ),
    "unit statement api": (
        "statement API",
        lambda r, u: f"/api/v1/tenants/{u['slug']}/statements/{r.choice(u['statements'])}/",
    ),
    "statements api": ("statement API", lambda r, u: "/api/v1/statements/"),
    "statement api": (
        "statement API",
        lambda r, u: f"/api/v1/statements/{r.choice(u['statements'])}/",
    ),
}

# Requests a unit member makes for another unit's objects: (own unit, other unit) -> path; each
# must be refused with a 403 or a 404, and its answer must not show the other unit either.
ProbeFor = Callable[[random.Random, dict, dict], str]
PROBES: dict[str, tuple[bool, ProbeFor]] = {  # name -> (pages, so sessions only; path)
    "probe: other unit's deployment under own unit": (
        True,
        lambda r, own, other: f"/t/{own['slug']}/deployments/{r.choice(other['deployments'])}/",
    ),
    "probe: other unit's statement under own unit": (
        True,
        lambda r, own, other: f"/t/{own['slug']}/statements/{r.choice(other['statements'])}/",
    ),
    "probe: other unit's approval page": (
        True,
        lambda r, own, other: f"/governance/approvals/{r.choice(other['approvals'])}/",
    ),
    "probe: other unit's catalog page": (True, lambda r, own, other: f"/t/{other['slug']}/models/"),
    "probe: other unit's catalog api": (
        False,
        lambda r, own, other: f"/api/v1/tenants/{other['slug']}/models/",
    ),
    "probe: other unit's deployment api under own unit": (
        False,
        lambda r, own, other: (
            f"/api/v1/tenants/{own['slug']}/deployments/{r.choice(other['deployments'])}/"
        ),
    ),
    "probe: other unit's statement api": (
        False,
        lambda r, own, other: f"/api/v1/statements/{r.choice(other['statements'])}/",
    ),
    "probe: other unit's approval api": (
        False,
        lambda r, own, other: f"/api/v1/approvals/{r.choice(other['approvals'])}/",
    ),
}

UNIT_MEMBER_MIX = {
    "catalog list page": 10,
    "catalog search page": 3,
    "model page": 8,
    "version page": 5,
    "deployment list page": 8,
    "deployment page": 8,
    "approval queue page": 5,
    "approval page": 4,
    "costs page": 4,
    "statement page": 5,
    "models api": 5,
    "model api": 3,
    "versions api": 2,
    "deployments api": 4,
    "deployment api": 3,
    "approvals api": 3,
    "approval api": 2,
    "unit statements api": 2,
    "unit statement api": 2,
}
TOKEN_MIX = {
    "models api": 10,
    "model api": 8,
    "versions api": 5,
    "deployments api": 8,
    "deployment api": 8,
    "approvals api": 4,
    "approval api": 4,
    "unit statements api": 3,
    "unit statement api": 3,
    "statement api": 3,  # the list of every unit's statements is finance's
}
GOVERNANCE_MIX = {
    "approval queue page": 15,
    "approval queue page, one unit": 5,
    "approval page": 15,
    "approvals api": 8,
    "approval api": 8,
    "catalog list page": 6,
    "model page": 8,
    "version page": 6,
    "deployment list page": 4,
    "deployment page": 6,
    "models api": 3,
    "deployment api": 3,
}
FINANCE_MIX = {
    "finance statements page": 20,
    "statement page": 20,
    "costs page": 10,
    "statements api": 12,
    "statement api": 12,
    "unit statements api": 5,
    "unit statement api": 5,
}
ADMIN_MIX = {
    **{name: 1 for name in ROUTES},
    "catalog list page": 4,
    "deployment list page": 4,
    "approval queue page": 4,
    "finance statements page": 3,
    "statement page": 3,
}
MIXES = {
    "viewer": UNIT_MEMBER_MIX,
    "engineer": UNIT_MEMBER_MIX,
    "owner": UNIT_MEMBER_MIX,
    "token": TOKEN_MIX,
    "governance_lead": GOVERNANCE_MIX,
    "finance": FINANCE_MIX,
    "platform_admin": ADMIN_MIX,
}


def virtual_users(count: int) -> list[dict]:
    """Who each virtual user is: kind, unit slug (None for platform roles) and account name."""
    users, seen = [], Counter()
    for index in range(count):
        kind, unit = ROLE_PATTERN[index % len(ROLE_PATTERN)]
        if kind == "token":
            unit = (index // len(ROLE_PATTERN)) % 2
        slug = slug_of(unit) if unit is not None else None
        seen[(kind, slug)] += 1
        name = f"{kind.replace('_', '-')}-{WORDS[unit] if unit is not None else 'platform'}"
        users.append({"kind": kind, "unit": slug, "username": f"{name}-{seen[(kind, slug)]}"})
    return users


# --- Setup (a subprocess whose Django points at the bench database) -------------------------------


def _months(now) -> list:
    """The ``MONTHS`` whole months before the current one, oldest first."""
    from datetime import timedelta

    from chargeback.services.metering import month_of

    months = [month_of(now)]
    for _ in range(MONTHS):
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months[:0:-1]


def _seed_unit(index: int, people: dict, actor, now, months: list) -> dict:
    """One unit's catalog, endpoints, approvals and gateway traffic; returns its usage plan."""
    from datetime import timedelta

    from chargeback.services.metering import month_start
    from governance.audit import Actor
    from governance.models import ApprovalRequest
    from governance.services.approvals import approval_decide
    from governance.services.cards import TEXT_FIELDS, card_get_or_create, card_update
    from governance.services.classification import model_classify
    from portal.catalog.models import ModelVersion, RegisteredModel, SyncRun
    from portal.deployments.models import Deployment, DeploymentState, GatewayMinute
    from portal.deployments.services import deployment_request, endpoint_default_name
    from tenants import services
    from tenants.scoping import tenant_scope

    rng = random.Random(SEED + index)  # noqa: S311 (made-up data)
    slug = slug_of(index)
    tenant = services.tenant_create(
        actor=actor, slug=slug, name=f"Unit {slug}", cost_center=f"CC-{slug}"
    )
    engineer, owner = people["engineers"][index], people["owners"][index]
    leads = people["leads"]
    tiers = ("minimal", "minimal", "limited", "high")
    answers = {
        "minimal": {"annex_iii_area": "none", "interacts_with_people": False},
        "limited": {"annex_iii_area": "none", "interacts_with_people": True},
        "high": {"annex_iii_area": "essential_services", "profiles_people": True},
    }
    base = {
        "prohibited_practice": False,
        "narrow_procedural_task": False,
        "profiles_people": False,
        "generates_content": False,
        "interacts_with_people": False,
    }
    with tenant_scope(tenant):
        services.membership_add(actor=actor, tenant=tenant, user=engineer, role="engineer")
        services.membership_add(actor=actor, tenant=tenant, user=owner, role="owner")
        for user in people["members"].get(slug, []):
            services.membership_add(
                actor=actor, tenant=tenant, user=user["user"], role=user["kind"]
            )
        created_ms = int((now - timedelta(days=30 * MONTHS + 60)).timestamp() * 1000)
        models = RegisteredModel.objects.bulk_create(
            RegisteredModel(
                tenant=tenant,
                name=f"{slug}-{KINDS[i % len(KINDS)]}-{i:03d}",
                description=f"The {KINDS[i % len(KINDS)]} model {i} of {slug}.",
                owner=f"{slug}-ml-team",
                use_case=f"{KINDS[i % len(KINDS)].capitalize()} decisions of unit {slug}.",
                mlflow_tags={"portal.tenant": slug, "team": f"{slug}-ml-team"},
                aliases={"champion": 1},
                mlflow_created_ms=created_ms + i * 3_600_000,
                mlflow_updated_ms=created_ms + i * 7_200_000,
                last_synced_at=now,
            )
            for i in range(MODELS)
        )
        versions: dict[int, list] = {}
        rows = []
        for i, model in enumerate(models):
            for number in range(1, 1 + 1 + rng.randrange(3)):
                rows.append(
                    ModelVersion(
                        tenant=tenant,
                        model=model,
                        version=number,
                        run_id=secrets.token_hex(16),
                        source=f"models:/m-{secrets.token_hex(16)}",
                        description=f"{model.name} trained on {slug} data, v{number}.",
                        aliases=["champion"] if number == 1 else [],
                        mlflow_tags={"portal.tenant": slug},
                        metrics={
                            "val_accuracy": round(0.8 + rng.random() / 10, 4),
                            "fairness_gap": round(rng.random() / 20, 4),
                        },
                        params={"C": "1.0", "max_depth": str(3 + number)},
                        datasets=[
                            {
                                "name": f"{slug}-train-{i:03d}",
                                "digest": secrets.token_hex(4),
                                "source": f"s3://{slug}/datasets/{i:03d}",
                                "context": "training",
                            }
                        ],
                        signature={
                            "inputs": [
                                {"name": "income", "type": "double"},
                                {"name": "age", "type": "long"},
                                {"name": "region", "type": "string"},
                            ],
                            "outputs": [{"type": "long"}],
                        },
                        artifact_size_bytes=rng.randrange(5, 900) * 1_000_000,
                        artifact_digest=secrets.token_hex(32),
                        mlflow_created_ms=created_ms + i * 3_600_000 + number * 86_400_000,
                        mlflow_updated_ms=created_ms + i * 3_600_000 + number * 86_400_000,
                        details_synced_at=now,
                    )
                )
        for version in ModelVersion.objects.bulk_create(rows):
            versions.setdefault(version.model_id, []).append(version)
        SyncRun.objects.create(
            tenant=tenant,
            trigger="schedule",
            status="succeeded",
            started_at=now - timedelta(minutes=5),
            finished_at=now - timedelta(minutes=4),
            models_seen=len(models),
            versions_created=len(rows),
        )
        for i, model in enumerate(models):
            tier = tiers[i % len(tiers)]
            model_classify(actor=actor, model=model, answers={**base, **answers[tier]})
            if tier == "high":
                card = card_get_or_create(actor=actor, version=versions[model.pk][-1])
                card_update(
                    actor=actor,
                    card=card,
                    **{
                        name: f"The {name.replace('_', ' ')} of {model.name}."
                        for name in TEXT_FIELDS
                    },
                )
            model.risk_tier = tier

        # Endpoints: two in three live (half of those with a retired first revision), the rest
        # requested through the policy; a quarter of the live ones also have a newer request.
        live, usage = [], []
        requested_by = Actor.user(engineer)
        for j, model in enumerate(models[:ENDPOINTS]):
            mine = versions[model.pk]
            environment = "staging" if model.risk_tier == "high" and j % 2 else "production"
            if j % 3 == 2:
                deployment_request(
                    actor=requested_by,
                    tenant=tenant,
                    version=mine[-1],
                    environment=environment,
                    instance_type=INSTANCE_TYPES[j % len(INSTANCE_TYPES)],
                    replicas=1 + j % 2,
                    user=engineer,
                )
                continue
            name = endpoint_default_name(mine[0], environment)
            start = months[rng.randrange(0, max(1, MONTHS // 2))]
            revisions = 2 if j % 2 else 1
            switch = (
                month_start(months[min(len(months) - 1, months.index(start) + 3)])
                if revisions == 2
                else None
            )
            for revision in range(1, revisions + 1):
                last = revision == revisions
                live_from = month_start(start) if revision == 1 else switch
                deployment = Deployment.objects.create(
                    tenant=tenant,
                    name=name,
                    revision=revision,
                    model_version=mine[0],
                    environment=environment,
                    instance_type=INSTANCE_TYPES[j % len(INSTANCE_TYPES)],
                    replicas=1 + j % 3,
                    drift_monitor=j % 4 != 1,
                    traffic_weight=100 if last else 0,
                    live_from=live_from,
                    live_until=None if last else switch,
                    state=DeploymentState.LIVE if last else DeploymentState.RETIRED,
                    serving={"state": "ready", "url": f"http://127.0.0.1:0/{name}"},
                    decision={"outcome": "allow", "requirements": {}, "reasons": ["Seeded."]},
                    requested_by=engineer,
                    requested_by_label=requested_by.label,
                    created_at=live_from - timedelta(hours=2),
                    state_changed_at=live_from,
                )
                usage.append(deployment)
                if last:
                    live.append(deployment)
            if j % 4 == 0 and len(mine) > 1:
                deployment_request(
                    actor=requested_by,
                    tenant=tenant,
                    version=mine[-1],
                    environment=environment,
                    instance_type=INSTANCE_TYPES[j % len(INSTANCE_TYPES)],
                    name=name,
                    user=engineer,
                )
        # Decide some of the approvals: every third one approved, every fifth rejected.
        approvals = list(ApprovalRequest.objects.order_by("id"))
        for k, approval in enumerate(approvals):
            verdict = "approve" if k % 3 == 0 else "reject" if k % 5 == 1 else None
            if verdict is None:
                continue
            needs = approval.requirements
            reviewers = leads[: needs.get("governance_lead", 0)] or [owner]
            for reviewer in reviewers:
                approval_decide(
                    actor=Actor.user(reviewer),
                    reviewer=reviewer,
                    approval=ApprovalRequest.objects.get(pk=approval.pk),
                    verdict=verdict,
                    comment=f"Seeded {verdict} for {slug}.",
                )
                if verdict == "reject":
                    break
        minute = now.replace(second=0, microsecond=0)
        GatewayMinute.objects.bulk_create(
            GatewayMinute(
                tenant=tenant,
                deployment=deployment,
                minute=minute - timedelta(minutes=m),
                requests=(n := rng.randrange(20, 400)),
                errors=rng.randrange(0, 3),
                input_rows=n * 4,
                latency_ms_total=n * rng.uniform(8, 40),
                latency_ms_max=rng.uniform(40, 250),
                captured=n,
            )
            for deployment in live
            for m in range(1, 61)
        )
        deployment_ids = list(Deployment.objects.order_by("id").values_list("id", flat=True))
        approval_ids = list(ApprovalRequest.objects.order_by("id").values_list("id", flat=True))
    return {
        "tenant": tenant,
        "slug": slug,
        "models": [[m.name, [v.version for v in versions[m.pk]]] for m in models],
        "deployments": deployment_ids,
        "approvals": approval_ids,
        "usage": usage,
        "rng": rng,
    }


def _usage(unit: dict, months: list, now) -> list:
    """Usage of a unit's deployments, one event per meter, deployment and month (to ``now``)."""
    from decimal import Decimal

    from chargeback.services.metering import UsageInput, month_start, next_month

    rng, events = unit["rng"], []
    tenant_id = unit["tenant"].pk
    hour = Decimal(3600)
    for deployment in unit["usage"]:
        version = deployment.model_version
        resource = {
            "deployment_id": deployment.pk,
            "resource_name": f"{deployment.name} r{deployment.revision} ({deployment.environment})",
            "instance_type": deployment.instance_type,
            "model_name": version.model.name,
            "model_version": version.version,
        }
        for month in [*months, next_month(months[-1])]:
            begin = max(month_start(month), deployment.live_from)
            end = min(month_start(next_month(month)), now)
            if deployment.live_until:
                end = min(end, deployment.live_until)
            if end <= begin:
                continue
            seconds = Decimal(int((end - begin).total_seconds()))
            month_seconds = Decimal(
                int((month_start(next_month(month)) - month_start(month)).total_seconds())
            )
            key = f"{deployment.pk}:{month:%Y%m}"
            events.append(
                UsageInput(
                    tenant_id=tenant_id,
                    meter="deployment_hours",
                    quantity=seconds / hour * deployment.replicas,
                    unit="hour",
                    start=begin,
                    end=end,
                    idempotency_key=f"hours:{key}",
                    attributes={"replicas": deployment.replicas, "target": deployment.target},
                    **resource,
                )
            )
            events.append(
                UsageInput(
                    tenant_id=tenant_id,
                    meter="requests",
                    quantity=Decimal(rng.randrange(10_000, 2_000_000)),
                    unit="requests",
                    start=begin,
                    end=end,
                    idempotency_key=f"requests:{key}",
                    **resource,
                )
            )
            if deployment.drift_monitor:
                events.append(
                    UsageInput(
                        tenant_id=tenant_id,
                        meter="monitored_model_months",
                        quantity=seconds / month_seconds,
                        unit="model-month",
                        start=begin,
                        end=end,
                        idempotency_key=f"monitoring:{key}",
                        **resource,
                    )
                )
            events.append(
                UsageInput(
                    tenant_id=tenant_id,
                    meter="storage_gb_months",
                    quantity=Decimal(version.artifact_size_bytes)
                    / Decimal(1024**3)
                    * seconds
                    / month_seconds,
                    unit="GB-month",
                    start=begin,
                    end=end,
                    idempotency_key=f"storage:{key}",
                    resource_id=f"model-version/{version.pk}",
                    resource_name=f"{version.model.name} v{version.version} artifacts",
                    model_name=version.model.name,
                    model_version=version.version,
                )
            )
    return events


def _profile(plan: dict, accounts: dict) -> dict:
    """SQL queries and in-process time of one request of each route, as its first user sees it."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenants.models import User

    rng = random.Random(SEED)  # noqa: S311 (a sample of paths)
    units = plan["units"]
    a = units[slug_of(0)]
    who = {  # the routes not read as unit A's owner
        "finance statements page": "finance-platform-1",
        "statements api": "finance-platform-1",
        "approval queue page, one unit": "governance-lead-platform-1",
    }
    profile = {}
    for route, (_, path_for) in ROUTES.items():
        username = who.get(route, f"owner-{WORDS[0]}-1")
        client = Client()
        if username in accounts:
            client.force_login(User.objects.get(username=username))
        samples, queries, status = [], [], 0
        for attempt in range(4):
            path = path_for(rng, a)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
            status = response.status_code
            if attempt:  # the first one warms caches and templates
                samples.append(elapsed)
                queries.append(len(captured.captured_queries))
        profile[route] = {
            "status": status,
            "queries": max(queries),
            "median_ms": round(statistics.median(samples), 1),
            "as": username,
        }
    return profile


def seed(plan_path: str) -> None:
    """Migrate, collect static files, seed, profile; writes the plan the load reads."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.utils import timezone

    from chargeback.models import Statement
    from chargeback.services.close import billing_period_close
    from chargeback.services.metering import month_start, next_month, usage_record_many
    from chargeback.services.prices import price_catalog_ensure
    from chargeback.services.statements import statement_finalize, statement_review
    from governance.audit import Actor
    from tenants import services
    from tenants.models import User
    from tenants.scoping import tenant_scope

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    price_catalog_ensure()
    actor = Actor.system("bench_load seed")
    now = timezone.now()
    months = _months(now)
    password = secrets.token_urlsafe(16)
    hashed = make_password(password)  # once: every account has the same password

    def person(username: str, platform_role: str = "") -> User:
        user = User.objects.create(
            username=username,
            password=hashed,
            email=f"{username}@example.com",
            first_name=username.split("-")[0].capitalize(),
        )
        if platform_role:
            services.user_set_platform_role(actor=actor, user=user, platform_role=platform_role)
        return user

    users = virtual_users(USERS)
    accounts, members = {}, defaultdict(list)
    for user in users:
        platform = user["kind"] if user["unit"] is None and user["kind"] != "token" else ""
        if user["kind"] == "token":
            continue
        accounts[user["username"]] = person(user["username"], platform)
        if user["unit"]:
            members[user["unit"]].append({"user": accounts[user["username"]], "kind": user["kind"]})
    people = {
        "engineers": [person(f"seed-engineer-{WORDS[i]}") for i in range(TENANTS)],
        "owners": [person(f"seed-owner-{WORDS[i]}") for i in range(TENANTS)],
        "leads": [person(f"seed-lead-{n}", "governance_lead") for n in (1, 2)],
        "members": members,
    }
    units = [_seed_unit(i, people, actor, now, months) for i in range(TENANTS)]
    print(
        f"  seeded catalog, endpoints and approvals in {time.perf_counter() - began:.0f} s",
        flush=True,
    )

    events = [event for unit in units for event in _usage(unit, months, now)]
    usage_record_many(events)
    finalized = 0
    for month in months:
        billing_period_close(month=month, actor=actor, now=month_start(next_month(month)))
    statements = {}
    for unit in units:
        with tenant_scope(unit["tenant"]):
            rows = list(Statement.objects.select_related("period").order_by("period__month"))
            for statement in rows[:-2]:
                statement_review(actor=actor, statement=statement)
                statement_finalize(actor=actor, statement=statement)
                finalized += 1
            statements[unit["slug"]] = [s.pk for s in rows]

    tokens = {}
    for slug in (slug_of(0), slug_of(1)):
        unit = next(u for u in units if u["slug"] == slug)
        with tenant_scope(unit["tenant"]):
            _, tokens[slug] = services.token_create(
                actor=actor,
                tenant=unit["tenant"],
                name="bench-load-read",
                scopes=["read"],
                expires_at=None,
                created_by=None,
            )
    plan = {
        "password": password,
        "users": users,
        "tokens": tokens,
        "units": {
            unit["slug"]: {
                "slug": unit["slug"],
                "models": unit["models"],
                "deployments": unit["deployments"],
                "approvals": unit["approvals"],
                "statements": statements[unit["slug"]],
            }
            for unit in units
        },
    }
    counts = {
        "units": len(units),
        "models": sum(len(u["models"]) for u in units),
        "versions": sum(len(v) for u in units for _, v in u["models"]),
        "deployments": sum(len(u["deployments"]) for u in units),
        "approvals": sum(len(u["approvals"]) for u in units),
        "statements": sum(len(s) for s in statements.values()),
        "finalized_statements": finalized,
        "usage_events": len(events),
        "accounts": len(accounts),
    }
    plan["counts"] = counts
    plan["seed_seconds"] = round(time.perf_counter() - began, 1)
    print(
        "  seeded "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        + f" in {plan['seed_seconds']:.0f} s",
        flush=True,
    )
    _analyze()
    plan["profile"] = _profile(plan, accounts)
    Path(plan_path).write_text(json.dumps(plan))


# --- The load -------------------------------------------------------------------------------------


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar = {}
    for header in response.msg.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


class Connection:
    """One keep-alive connection to gunicorn, reopened when the server has closed it."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        for attempt in (1, 2):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(
                    method, path, body=body, headers={**self.headers, **(headers or {})}
                )
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 2:  # only an idle connection closed by the server is retried
                    raise
                continue
            if response.will_close:
                self.close()
            return response, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def login(port: int, username: str, password: str) -> str:
    """Sign in through the login form; returns the Cookie header of the session."""
    conn = Connection(port, {})
    try:
        response, page = conn.request("GET", "/login/")
        jar = _cookies(response)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if response.status != 200 or not match or "csrftoken" not in jar:
            raise RuntimeError(f"the login page answered {response.status}")
        form = urllib.parse.urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": match.group(1).decode(),
            }
        ).encode()
        response, page = conn.request(
            "POST",
            "/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={jar['csrftoken']}",
            },
        )
        jar.update(_cookies(response))
        if response.status != 302 or "sessionid" not in jar:
            raise RuntimeError(f"{username} could not sign in: {response.status} {page[:200]!r}")
        return "; ".join(f"{k}={v}" for k, v in jar.items())
    finally:
        conn.close()


@dataclass
class Sample:
    route: str
    group: str
    ms: float
    status: int
    ok: bool
    leak: str  # another unit's slug found in a unit member's answer
    names_unit: bool  # a unit's slug found in a platform role's answer (the search works)
    measured: bool


@dataclass
class VirtualUser:
    index: int
    kind: str
    unit: str | None
    username: str
    headers: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    failure: str = ""


def _pick(weights: dict[str, int], rng: random.Random) -> str:
    names = list(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def _next_request(user: VirtualUser, plan: dict, rng: random.Random) -> tuple[str, str, str, bool]:
    """(route, group, path, expect refusal) of the user's next request."""
    units = plan["units"]
    if user.unit is not None and rng.random() < PROBE_SHARE:
        names = [n for n, (pages, _) in PROBES.items() if user.kind != "token" or not pages]
        name = rng.choice(names)
        other = rng.choice([u for slug, u in units.items() if slug != user.unit])
        return name, "isolation probe", PROBES[name][1](rng, units[user.unit], other), True
    route = _pick(MIXES[user.kind], rng)
    unit = units[user.unit] if user.unit is not None else rng.choice(list(units.values()))
    group, path_for = ROUTES[route]
    return route, group, path_for(rng, unit), False


def _user_loop(
    user: VirtualUser,
    plan: dict,
    port: int,
    start_at: float,
    measure_from: float,
    stop_at: float,
    pattern: re.Pattern,
) -> None:
    """``pattern`` finds other units' slugs for a unit member, any unit's for platform roles."""
    rng = random.Random(SEED * 7 + user.index)  # noqa: S311 (the user's mix)
    conn = Connection(port, user.headers)
    try:
        time.sleep(max(0.0, start_at - time.perf_counter()) + rng.uniform(0, WARMUP * 0.8))
        while time.perf_counter() < stop_at:
            route, group, path, refused = _next_request(user, plan, rng)
            began = time.perf_counter()
            try:
                response, body = conn.request("GET", path)
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                status, body = 0, repr(error).encode()
            ended = time.perf_counter()
            ok = status in (403, 404) if refused else status == 200
            found = pattern.search(body)
            user.samples.append(
                Sample(
                    route=route,
                    group=group,
                    ms=(ended - began) * 1000,
                    status=status,
                    ok=ok,
                    leak=found.group(0).decode() if found and user.unit else "",
                    names_unit=bool(found) and not user.unit,
                    measured=began >= measure_from and ended <= stop_at,
                )
            )
            if not ok and not user.failure:
                user.failure = f"{route} {path} -> {status}: {body[:300]!r}"
            think = rng.uniform(*THINK) if len(THINK) == 2 else THINK[0]
            time.sleep(max(0.0, min(think, stop_at - time.perf_counter())))
    except BaseException as error:  # reported with the figures
        user.failure = f"the client stopped: {error!r}"
    finally:
        conn.close()


# --- CPU time -------------------------------------------------------------------------------------


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


# --- Figures --------------------------------------------------------------------------------------


def _latency(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"median_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    if len(samples) == 1:
        cuts = samples * 99
    else:
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(samples), 1),
    }


def _figures(samples: list[Sample], key: Callable[[Sample], str]) -> dict[str, dict]:
    measured = defaultdict(list)
    every = defaultdict(list)
    for sample in samples:
        every[key(sample)].append(sample)
        if sample.measured:
            measured[key(sample)].append(sample.ms)
    return {
        name: {
            "requests": len(measured[name]),
            "rps": round(len(measured[name]) / SECONDS, 2),
            **_latency(measured[name]),
            "errors": sum(not s.ok for s in every[name]),
            "leaks": sum(bool(s.leak) for s in every[name]),
        }
        for name in sorted(every)
    }


def _run_load(plan: dict, port: int, gunicorn_pid: int) -> dict:
    users = [
        VirtualUser(index=i, kind=u["kind"], unit=u["unit"], username=u["username"])
        for i, u in enumerate(plan["users"])
    ]
    began = time.perf_counter()

    def sign_in(user: VirtualUser) -> None:
        if user.kind == "token":
            user.headers = {"Authorization": f"Bearer {plan['tokens'][user.unit]}"}
        else:
            user.headers = {"Cookie": login(port, user.username, plan["password"])}

    with ThreadPoolExecutor(max_workers=WORKERS * THREADS) as pool:
        list(pool.map(sign_in, users))
    signed_in = time.perf_counter() - began
    print(f"  {len(users)} users signed in (login form or token) in {signed_in:.1f} s", flush=True)

    slugs = list(plan["units"])
    patterns = {
        slug: re.compile("|".join(re.escape(s) for s in slugs if s != slug).encode())
        for slug in [*slugs, None]
    }
    start_at = time.perf_counter() + 0.5
    measure_from = start_at + WARMUP
    stop_at = measure_from + SECONDS
    threads = [
        threading.Thread(
            target=_user_loop,
            args=(
                u,
                plan,
                port,
                start_at,
                measure_from,
                stop_at,
                patterns[u.unit],
            ),
            daemon=True,
        )
        for u in users
    ]
    for thread in threads:
        thread.start()
    meter = CpuMeter(gunicorn_pid)
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    meter.start()
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    cpu = meter.finish()
    busiest_others = meter.top_others
    for thread in threads:
        thread.join(timeout=120)
    samples = [s for u in users for s in u.samples]
    measured = [s for s in samples if s.measured]
    leaks = [s for s in samples if s.leak]
    errors = [s for s in samples if not s.ok]
    statuses = Counter(s.status for s in errors)
    overall = {
        "requests": len(measured),
        "requests_with_warmup": len(samples),
        "rps": round(len(measured) / SECONDS, 1),
        **_latency([s.ms for s in measured]),
        "errors": len(errors),
        "error_statuses": {str(k): v for k, v in statuses.items()},
        "leaks": len(leaks),
        "probes": sum(s.group == "isolation probe" for s in samples),
        "platform_answers": sum(not u.unit for u in users for _ in u.samples),
        "platform_answers_naming_a_unit": sum(s.names_unit for s in samples),
    }
    by_kind = defaultdict(list)
    for user in users:
        by_kind[user.kind].extend(s.ms for s in user.samples if s.measured)
    return {
        "overall": overall,
        "groups": _figures(samples, lambda s: s.group),
        "routes": _figures(samples, lambda s: s.route),
        "roles": {kind: {"requests": len(v), **_latency(v)} for kind, v in sorted(by_kind.items())},
        "busy_cores": cpu,
        "busiest_other_processes": busiest_others,
        "signed_in_s": round(signed_in, 1),
        "failures": sorted({u.failure for u in users if u.failure})[:10],
        "leak_samples": [f"{s.route}: {s.leak}" for s in leaks[:10]],
    }


# --- Processes and the whole run --------------------------------------------------------------


def _fresh_database() -> None:
    """The bench database, owned by postgres, and the application's role (no owner, no
    superuser, no BYPASSRLS, as bin/run-tests and docker/postgres-init make it)."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            # Another run may create it just now.
            with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                        "PASSWORD {}"
                    ).format(sql.Identifier(APP_ROLE), sql.Literal(APP_PASSWORD))
                )
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _analyze() -> None:
    """Fresh planner statistics after the seed, as autovacuum keeps them on a live database."""
    import psycopg

    with psycopg.connect(OWNER_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
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


def _environment(folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # Nothing of the caller's servers: no shared Redis, broker or MLflow for this run.
        if k not in {"REDIS_URL", "CELERY_BROKER_URL", "MLFLOW_TRACKING_URI", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=APP_URL,
        DATABASE_MIGRATE_URL=OWNER_URL,
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECURE_SSL_REDIRECT="false",
        PORTAL_VAR_DIR=str(folder),
        CELERY_BROKER_URL="memory://localhost/",  # the seed's notifications and rollouts go nowhere
        CELERY_TASK_ALWAYS_EAGER="false",  # (bench_gateway, run before in `make bench`, sets it)
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        THROTTLE_LOGIN="10000/5min",  # every virtual user signs in from 127.0.0.1
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def _report(plan: dict, results: dict) -> None:
    o = results["overall"]
    print(
        f"  {USERS} users, think {'-'.join(f'{t:g}' for t in THINK)} s, {SECONDS:.0f} s measured "
        f"after {WARMUP:.0f} s ramp-up, gunicorn {WORKERS} workers x {THREADS} threads"
    )
    header = f"    {'':38s} {'requests':>8s} {'req/s':>7s} {'median':>8s} {'p95':>8s} {'p99':>8s} {'errors':>6s} {'leaks':>5s}"
    for title, rows in (("route groups", results["groups"]), ("routes", results["routes"])):
        print(f"  {title}:")
        print(header)
        for name, f in rows.items():
            profile = plan["profile"].get(name)
            note = (
                f"  ({profile['queries']} queries, {profile['median_ms']:.0f} ms alone)"
                if profile
                else ""
            )
            print(
                f"    {name:38s} {f['requests']:8d} {f['rps']:7.1f} {f['median_ms']:8.1f} "
                f"{f['p95_ms']:8.1f} {f['p99_ms']:8.1f} {f['errors']:6d} {f['leaks']:5d}{note}"
            )
    print(
        f"  overall: {o['requests']} requests, {o['rps']:.1f} req/s, median {o['median_ms']:.1f} ms, "
        f"p95 {o['p95_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms, max {o['max_ms']:.0f} ms"
    )
    if results["busy_cores"]:
        print(
            "  busy cores on average: "
            + ", ".join(f"{k} {v:.2f}" for k, v in results["busy_cores"].items())
            + f" (of {os.cpu_count()})"
        )
    others = results["busy_cores"].get("others", 0.0)
    if others > 0.25:
        print(
            f"  note: other processes kept {others:.2f} of the {os.cpu_count()} cores busy during "
            "the measurement; the latencies include waiting for them"
        )
        for line in results["busiest_other_processes"]:
            print(f"    {line}")
    for failure in results["failures"]:
        print(f"  failure: {failure}")
    for leak in results["leak_samples"]:
        print(f"  LEAK: {leak}")
    verdicts = results["verdicts"]
    print(
        f"  p95 {o['p95_ms']:.1f} ms (target at most {P95_TARGET_MS:.0f} ms): "
        + ("met" if verdicts["p95"] else "MISSED")
    )
    print(f"  errors: {o['errors']} (target 0): " + ("met" if verdicts["errors"] else "MISSED"))
    print(
        f"  answers showing another unit's data: {o['leaks']} of {o['requests_with_warmup']}, "
        f"{o['probes']} isolation probes among them (target 0): "
        + ("met" if verdicts["leaks"] else "MISSED")
    )
    print(
        f"  (the same search finds a unit's slug in {o['platform_answers_naming_a_unit']} of "
        f"{o['platform_answers']} answers to platform roles, who see every unit)"
    )


def main() -> None:
    if not postgres_reachable():
        print("bench_load needs PostgreSQL on 127.0.0.1:5432; skipped.")
        return
    sys.path.insert(0, str(ROOT))
    _fresh_database()
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = _environment(folder)
    plan_path = folder / "plan.json"
    print(
        f"load: {TENANTS} units x {MODELS} models, {ENDPOINTS} endpoints, {MONTHS} months; "
        f"{USERS} users for {SECONDS:.0f} s" + (" (short mode)" if SHORT else "")
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"from benchmarks.bench_load import seed; seed({str(plan_path)!r})"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    plan = json.loads(plan_path.read_text())
    port = _free_port()
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
        _wait_for(port, gunicorn)
        results = _run_load(plan, port, gunicorn.pid)
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
    _report(plan, results)
    if not results["failures"] and results["overall"]["errors"]:
        print("  gunicorn log tail:\n" + log.read_text()[-3000:])
    print(f"  whole benchmark: {time.perf_counter() - started:.0f} s")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
