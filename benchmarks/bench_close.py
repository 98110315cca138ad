"""The month close against one hand-written SQL aggregation of the same usage, on PostgreSQL.

Data (seeded, in a database of its own, ``portal_bench_close``, dropped and made again): 200
tenants, 2,000 deployments spread over them (cpu.small, cpu.medium, cpu.large, gpu.t4; one to
three replicas), and one deployment-hours row per deployment and hour of a 30-day month
(1,440,000 rows, loaded with COPY; the first hour of every tenth deployment is a part hour).

Timed, each a few times, medians reported:
- the close: ``billing_period_close`` of the month (rating in one GROUP BY, charges, one draft
  statement per tenant with its lines and audit event, progress after each batch); the month
  is reopened and its statements and charges removed between runs;
- the peer: one hand-written SQL statement that sums the month's usage per tenant, resource and
  meter, prices it with the instance prices and the markup, rounds each line half up to the
  cent and adds the lines up per tenant.

Targets: the close takes at most 2x the peer's time, and every tenant's statement total equals
the peer's recomputation to the cent. Needs PostgreSQL on 127.0.0.1:5432 (user postgres).
``BENCH_CLOSE_RUNS`` (default 3) sets the number of timed runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks import postgres_reachable

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "portal_bench_close"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
TENANTS = 200
DEPLOYMENTS = 2000
MONTH = date(2026, 9, 1)  # 30 days
HOURS = 30 * 24
RUNS = int(os.environ.get("BENCH_CLOSE_RUNS", "3"))
INSTANCE_TYPES = ("cpu.small", "cpu.medium", "cpu.large", "gpu.t4")
RATIO_TARGET = 2.0
PART_HOUR = Decimal(2670) / Decimal(3600)  # 10:15:30 to 11:00:00

PEER_SQL = """
WITH lines AS (
    SELECT tenant_id, resource_id, meter, correction, MAX(instance_type) AS instance_type,
           SUM(quantity) AS quantity
    FROM chargeback_usageevent
    WHERE charge_period = %(month)s
    GROUP BY tenant_id, resource_id, meter, correction
)
SELECT lines.tenant_id, SUM(ROUND(lines.quantity * prices.price * %(markup)s, 2))
FROM lines JOIN (VALUES {prices}) AS prices(instance_type, price) USING (instance_type)
GROUP BY lines.tenant_id
"""


def _fresh_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _populate() -> list[tuple[int, int, str, int, str, str, int]]:
    """Tenants, models, versions and deployments; returns one row per deployment."""
    from portal.catalog.models import ModelVersion, RegisteredModel
    from portal.deployments.models import Deployment
    from tenants.models import Tenant

    tenants = Tenant.objects.bulk_create(
        Tenant(slug=f"unit-{i:03d}", name=f"Unit {i:03d}", cost_center=f"CC-{i:03d}")
        for i in range(TENANTS)
    )
    models = RegisteredModel.objects.dangerously_across_tenants().bulk_create(
        RegisteredModel(tenant=tenants[i % TENANTS], name=f"model-{i:04d}")
        for i in range(DEPLOYMENTS)
    )
    versions = ModelVersion.objects.dangerously_across_tenants().bulk_create(
        ModelVersion(tenant_id=model.tenant_id, model=model, version=1) for model in models
    )
    deployments = Deployment.objects.dangerously_across_tenants().bulk_create(
        Deployment(
            tenant_id=version.tenant_id,
            name=f"endpoint-{i:04d}",
            model_version=version,
            environment="production",
            target="local",
            instance_type=INSTANCE_TYPES[i % len(INSTANCE_TYPES)],
            replicas=1 + i % 3,
            state="live",
            requested_by_label="bench",
        )
        for i, version in enumerate(versions)
    )
    return [
        (
            d.pk,
            d.tenant_id,
            d.instance_type,
            d.replicas,
            f"endpoint-{i:04d} r1 (production)",
            models[i].name,
            i,
        )
        for i, d in enumerate(deployments)
    ]


def _load_usage(deployments: list) -> int:
    """One deployment-hours row per deployment and hour of the month, with COPY."""
    from django.db import connection

    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=UTC)
    created = datetime.now(UTC).isoformat()
    columns = (
        "tenant_id, meter, quantity, unit, deployment_id, resource_id, resource_name, "
        'instance_type, model_name, model_version, start, "end", idempotency_key, '
        "charge_period, correction, attributes, created_at"
    )
    rows = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        with raw.copy(f"COPY chargeback_usageevent ({columns}) FROM STDIN") as copy:
            for pk, tenant_id, instance_type, replicas, name, model, i in deployments:
                resource = f"deployment/{pk}"
                for hour in range(HOURS):
                    begin = start + timedelta(hours=hour)
                    hours = PART_HOUR if (hour == 0 and i % 10 == 0) else Decimal(1)
                    copy.write_row(
                        (
                            tenant_id,
                            "deployment_hours",
                            (hours * replicas).quantize(Decimal("0.000000000001")),
                            "hour",
                            pk,
                            resource,
                            name,
                            instance_type,
                            model,
                            1,
                            begin,
                            begin + timedelta(hours=1),
                            f"hours:{pk}:{begin:%Y%m%dT%H}",
                            MONTH,
                            False,
                            "{}",
                            created,
                        )
                    )
                    rows += 1
        cursor.execute("VACUUM ANALYZE chargeback_usageevent")
    return rows


def _reopen() -> None:
    from chargeback.models import BillingPeriod, Charge, Statement, StatementLine

    StatementLine.objects.dangerously_across_tenants().all().delete()
    Statement.objects.dangerously_across_tenants().all().delete()
    Charge.objects.dangerously_across_tenants().all().delete()
    BillingPeriod.objects.filter(month=MONTH).update(
        state="open", processed=0, total=0, started_at=None, closed_at=None
    )


def _time_close() -> float:
    from chargeback.services.close import billing_period_close
    from chargeback.services.metering import month_start, next_month
    from portal.core.audit import Actor

    _reopen()
    began = time.perf_counter()
    billing_period_close(
        month=MONTH, actor=Actor.system("bench"), now=month_start(next_month(MONTH))
    )
    return time.perf_counter() - began


def _peer() -> tuple[float, dict[int, Decimal]]:
    from django.db import connection

    from chargeback.models import PriceService
    from chargeback.selectors import hourly_price
    from chargeback.services.rate_cards import rate_card_in_force

    card = rate_card_in_force()
    prices = {
        kind: hourly_price(target="local", instance_type=kind, service=PriceService.INFERENCE)
        for kind in INSTANCE_TYPES
    }
    values = ", ".join(f"('{kind}', {item.unit_price}::numeric)" for kind, item in prices.items())
    sql = PEER_SQL.format(prices=values)
    markup = Decimal(1) + card.markup_percent / 100
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"month": MONTH, "markup": markup})
        totals = dict(cursor.fetchall())
    return time.perf_counter() - began, totals


def run() -> None:
    """The benchmark itself, in a process whose Django points at the bench database."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from chargeback.models import Statement, UsageEvent
    from chargeback.services.prices import price_catalog_ensure

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    price_catalog_ensure()
    deployments = _populate()
    rows = _load_usage(deployments)
    print(
        f"loaded {TENANTS} tenants, {len(deployments)} deployments, {rows:,} usage rows "
        f"(COPY) in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    assert UsageEvent.objects.dangerously_across_tenants().count() == rows

    _peer()  # warm the cache for both sides
    closes, peers = [], []
    for _ in range(RUNS):
        closes.append(_time_close())
        seconds, recomputed = _peer()
        peers.append(seconds)
    close_median, peer_median = statistics.median(closes), statistics.median(peers)
    ratio = close_median / peer_median

    totals = dict(Statement.objects.dangerously_across_tenants().values_list("tenant_id", "total"))
    mismatches = {
        tenant_id: (totals.get(tenant_id), total)
        for tenant_id, total in recomputed.items()
        if totals.get(tenant_id) != total
    }
    grand = sum(totals.values(), Decimal(0))
    connection.close()

    print(f"close runs:  {', '.join(f'{s:.3f}' for s in closes)} s")
    print(f"peer runs:   {', '.join(f'{s:.3f}' for s in peers)} s")
    print(f"close median {close_median:.3f} s, hand-written SQL median {peer_median:.3f} s")
    print(
        f"ratio close / SQL: {ratio:.2f}x (target at most {RATIO_TARGET:.1f}x): "
        + ("met" if ratio <= RATIO_TARGET else "MISSED")
    )
    print(
        f"statements: {len(totals)}, grand total {grand} USD; totals equal the independent "
        "recomputation to the cent: "
        + (
            "yes"
            if not mismatches and len(totals) == len(recomputed) == TENANTS
            else f"NO {mismatches}"
        )
    )


def main() -> None:
    if not postgres_reachable():
        print("bench_close needs PostgreSQL on 127.0.0.1:5432; skipped.")
        return
    _fresh_database()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-close-only-not-a-real-secret",
        "PORTAL_VAR_DIR": str(ROOT / "var" / "bench-close"),
    }
    subprocess.run(
        [sys.executable, "-c", "from benchmarks.bench_close import run; run()"],
        cwd=ROOT,
        env=env,
        check=True,
    )


if __name__ == "__main__":
    main()
