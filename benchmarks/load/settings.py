"""What the load run builds and how hard it pushes: every figure from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import APP_PASSWORD, APP_ROLE

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE = "portal_bench_load"
OWNER_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
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
CATALOG_PAGE = 25  # portal.core.paging.PAGE_SIZE, as the catalog and deployment lists show

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
