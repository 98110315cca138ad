"""The setup, in a subprocess whose Django points at the bench database: units, people, catalog,
deployments, approvals, traffic and closed months, and the plan the load follows."""

from __future__ import annotations

import json
import random
import secrets
import statistics
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from benchmarks.load.processes import analyze
from benchmarks.load.scenario import ROUTES, virtual_users
from benchmarks.load.settings import (
    ENDPOINTS,
    INSTANCE_TYPES,
    KINDS,
    MODELS,
    MONTHS,
    SEED,
    TENANTS,
    USERS,
    WORDS,
    slug_of,
)


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
    from governance.models import ApprovalRequest
    from governance.services.cards import (
        TEXT_FIELDS,
        card_get_or_create,
        card_review,
        card_submit,
        card_update,
    )
    from portal.catalog.models import ModelVersion, RegisteredModel, SyncRun
    from portal.core.audit import Actor
    from portal.deployments.models import Deployment, DeploymentState, GatewayMinute
    from portal.deployments.services import DeploymentSpec, endpoint_default_name
    from portal.deployments.workflow import approval_decide, deployment_request, model_classify
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
                            "fairness_demographic_parity_difference": round(rng.random() / 20, 4),
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
                    editor=None,
                    **{
                        name: f"The {name.replace('_', ' ')} of {model.name}."
                        for name in TEXT_FIELDS
                    },
                )
                # Approved by a lead, as the default policy wants for production.
                card = card_submit(actor=actor, card=card, submitter=None)
                card_review(actor=actor, reviewer=leads[0], card=card, approve=True)
            model.risk_tier = tier

        # Endpoints: two in three live (half of those with a retired first revision), the rest
        # requested through the policy; a quarter of the live ones also have a newer request.
        live, usage = [], []
        requested_by = Actor.user(engineer)
        for j, model in enumerate(models[:ENDPOINTS]):
            mine = versions[model.pk]
            environment = "staging" if model.risk_tier == "high" and j % 2 else "production"
            newest = DeploymentSpec(
                version=mine[-1],
                environment=environment,
                instance_type=INSTANCE_TYPES[j % len(INSTANCE_TYPES)],
            )
            if j % 3 == 2:
                deployment_request(
                    actor=requested_by,
                    tenant=tenant,
                    spec=replace(newest, replicas=1 + j % 2),
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
                    spec=replace(newest, name=name),
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
    from portal.core.audit import Actor
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
    analyze()
    plan["profile"] = _profile(plan, accounts)
    Path(plan_path).write_text(json.dumps(plan))
