"""What each role asks for: the routes, each role's mix of them, and the virtual users."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from benchmarks.load.settings import CATALOG_PAGE, KINDS, ROLE_PATTERN, WORDS, slug_of

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
