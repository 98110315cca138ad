"""How to call every route of the portal as every role, against own, other and missing objects.

``ROUTES`` maps a route (the OpenAPI path for the API, the URLconf pattern written the same way
for pages and the gateway) to the methods the matrix calls and the body each one sends. A route's
parameters name things of a unit (``PARAMS``); the three objects are:

    own      every parameter names a thing of unit A (the unit the roles belong to)
    other    the things are unit B's; the unit in the URL stays A's when the route names things
             below it (B's ids under A's URL), and is B's when the unit is all the route names
    missing  the things do not exist (an unknown unit when the unit is all the route names)

Routes whose things are not a unit's (price sources, policies, unassigned models) have no
``other``; routes that name no thing have only ``own``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from governance.tests.builders import ANSWERS
from tests.authz.world import (
    BASELINE_CSV,
    MISSING_ID,
    MISSING_NAME,
    MISSING_SLUG,
    MISSING_UUID,
    Unit,
    World,
)

ROLES = (
    "anonymous",
    "viewer",
    "engineer",
    "owner",
    "token:read",
    "token:write",
    "token:deploy",
    "token:predict",
    "governance",
    "finance",
    "admin",
)
OBJECTS = ("own", "other", "missing")
PEOPLE = {
    "viewer": "ava",
    "engineer": "amir",
    "owner": "alice",
    "governance": "grace",
    "finance": "fiona",
    "admin": "adam",
}

Values = dict[str, Any]
Body = Callable[[Values], Any] | None

# --- Parameters -------------------------------------------------------------------------------

# What each URL parameter names, unless a route says otherwise.
DEFAULT_PARAMS = {
    "tenant": "tenant",
    "name": "model",
    "version": "version",
    "deployment_id": "deployment",
    "incident_id": "incident",
    "monitor_id": "monitor",
    "statement_id": "statement",
    "line_id": "line",
    "dispute_id": "dispute",
    "approval_id": "approval",
    "delivery_id": "delivery",
    "job_id": "job",
    "delegation_id": "delegation",
    "proposal_id": "proposal",
}
# Things that belong to no unit: an ``other`` object does not exist for them.
GLOBAL_THINGS = {"price_source", "policy", "unassigned", "delegation"}
# Things named in the body rather than the URL (the route takes them from the body).
BODY_THINGS = {
    "/api/v1/policies/dry-run/": ("tenant", "model"),
    "/api/v1/statements/{statement_id}/credit/": ("line",),
    "/t/{tenant}/statements/{statement_id}/": ("line",),
}
# The gateway answers for B's unit under B's slug only: the token is A's.
OTHER_UNIT_IN_URL = {
    "/serve/{tenant}/{deployment}/invocations",
    "/serve/{tenant}/{deployment}/ping",
}

PARAMS: dict[str, dict[str, str]] = {
    "/api/v1/tenants/{tenant}/members/{id}/": {"id": "membership"},
    "/api/v1/tenants/{tenant}/tokens/{id}/": {"id": "token"},
    "/api/v1/tenants/{tenant}/webhooks/{id}/": {"id": "webhook"},
    "/api/v1/tenants/{tenant}/webhooks/{id}/deliveries/": {"id": "webhook"},
    "/api/v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery_id}/redeliver/": {"id": "webhook"},
    "/api/v1/tenants/{tenant}/deployments/{deployment_id}/rollback/": {"deployment_id": "live"},
    "/api/v1/tenants/{tenant}/deployments/{deployment_id}/drift/": {"deployment_id": "live"},
    "/api/v1/tenants/{tenant}/deployments/{deployment_id}/decision-log/": {"deployment_id": "live"},
    "/api/v1/tenants/{tenant}/models/{name}/versions/{version}/baseline/": {"name": "live_model"},
    "/api/v1/price-sources/{name}/items/": {"name": "price_source"},
    "/api/v1/catalog/unassigned/{name}/assign/": {"name": "unassigned"},
    "/catalog/unassigned/{name}/assign/": {"name": "unassigned"},
    "/governance/policies/{name}/": {"name": "policy"},
    "/t/{tenant}/tokens/{pk}/revoke/": {"pk": "token"},
    "/t/{tenant}/deployments/{deployment_id}/rollback/": {"deployment_id": "live"},
    "/t/{tenant}/deployments/{deployment_id}/drift/": {"deployment_id": "live"},
    "/t/{tenant}/deployments/{deployment_id}/decision-log/": {"deployment_id": "live"},
    "/serve/{tenant}/{deployment}/invocations": {"deployment": "live_name"},
    "/serve/{tenant}/{deployment}/ping": {"deployment": "live_name"},
}

_PARAM = re.compile(r"{(\w+)}")


def params_of(route: str) -> dict[str, str]:
    """URL parameter -> the thing it names."""
    names = _PARAM.findall(route)
    return {name: PARAMS.get(route, {}).get(name, DEFAULT_PARAMS.get(name, name)) for name in names}


def things_of(route: str) -> list[str]:
    return [*params_of(route).values(), *BODY_THINGS.get(route, ())]


def objects_of(route: str) -> tuple[str, ...]:
    things = things_of(route)
    if not things:
        return ("own",)
    if set(things) & GLOBAL_THINGS:
        return ("own", "missing")
    return OBJECTS


def thing(unit: Unit, key: str, world: World) -> Any:
    if key == "tenant":
        return unit.tenant.slug
    values = {
        "model": unit.model,
        "version": unit.version.version,
        "deployment": unit.deployment.pk,
        "live": unit.live.pk,
        "live_model": unit.live.model_version.model.name,
        "live_name": unit.live.name,
        "incident": unit.incident.pk,
        "monitor": unit.monitor.pk,
        "statement": unit.statement.pk,
        "line": unit.line.pk,
        "dispute": unit.dispute.pk,
        "job": unit.job.pk,
        "approval": unit.approval.pk,
        "proposal": unit.proposal.pk,
        "delivery": str(unit.delivery.delivery_id),
        "membership": unit.membership.pk,
        "token": unit.token.pk,
        "webhook": unit.webhook.pk,
        "price_source": "hand-entered",
        "policy": world.policy,
        "unassigned": world.unassigned,
        "delegation": world.delegation,
    }
    return values[key]


def missing_thing(key: str) -> Any:
    if key == "tenant":
        return MISSING_SLUG
    if key == "version":
        return 99
    if key == "delivery":
        return MISSING_UUID
    if key in {"model", "live_model", "live_name", "price_source", "policy", "unassigned"}:
        return MISSING_NAME
    return MISSING_ID


def values_for(world: World, route: str, obj: str) -> Values:
    """The value of each thing the route names, for one of the three objects."""
    keys = things_of(route)
    url_keys = list(params_of(route).values())
    own = {key: thing(world.a, key, world) for key in keys}
    if obj == "own":
        return own
    below_unit = [key for key in url_keys if key != "tenant"]
    if obj == "other":
        other = {key: thing(world.b, key, world) for key in keys}
        if "tenant" in url_keys and below_unit and route not in OTHER_UNIT_IN_URL:
            other["tenant"] = own["tenant"]
        return other
    if obj == "twin":
        # The missing thing that another unit's 404 is compared with, byte for byte.
        if route in OTHER_UNIT_IN_URL:
            return {**values_for(world, route, "other"), "tenant": MISSING_SLUG}
        return values_for(world, route, "missing")
    missing = {key: missing_thing(key) for key in keys}
    if "tenant" in url_keys and below_unit:
        missing["tenant"] = own["tenant"]
    return missing


def url_for(route: str, values: Values) -> str:
    return _PARAM.sub(lambda m: str(values[params_of(route)[m.group(1)]]), route)


# --- Bodies -----------------------------------------------------------------------------------


def _baseline_upload(values: Values) -> dict:
    return {
        "source": "upload",
        "prediction_column": "prediction",
        "file": SimpleUploadedFile("train.csv", BASELINE_CSV, content_type="text/csv"),
    }


def _dry_run(values: Values) -> dict:
    return {
        "tenant": values["tenant"],
        "model": values["model"],
        "version": 1,
        "environment": "production",
    }


def _policy(values: Values) -> dict:
    return {"document": values["_world"].policy_document, "note": "Same rules, republished."}


def _delegation(values: Values) -> dict:
    ends_at = timezone.now() + timedelta(days=3)
    return {"delegate": "gus", "ends_at": ends_at.strftime("%Y-%m-%dT%H:%M")}


MANUAL_PRICE = {
    "items": [
        {
            "service": "inference",
            "sku": "cpu.small-manual",
            "region": "us-east-1",
            "instance_type": "cpu.small",
            "pricing_unit": "hour",
            "unit_price": "0.05",
        }
    ]
}
PREDICTION = {"dataframe_split": {"columns": ["income", "age", "region"], "data": [[5e4, 40, "n"]]}}

API = "/api/v1"
T = f"{API}/tenants/{{tenant}}"
V = f"{T}/models/{{name}}/versions/{{version}}"

ROUTES: dict[str, dict[str, Body]] = {
    # Tenants, members, tokens, webhooks
    f"{API}/tenants/": {"GET": None, "POST": lambda v: {"slug": "new-unit", "name": "New Unit"}},
    f"{T}/": {"GET": None, "PATCH": lambda v: {"name": "Renamed"}},
    f"{T}/members/": {"GET": None, "POST": lambda v: {"username": "gus", "role": "viewer"}},
    f"{T}/members/{{id}}/": {"GET": None, "PATCH": lambda v: {"role": "viewer"}, "DELETE": None},
    f"{T}/tokens/": {"GET": None, "POST": lambda v: {"name": "new", "scopes": ["read"]}},
    f"{T}/tokens/{{id}}/": {"GET": None, "DELETE": None},
    f"{T}/webhooks/": {
        "GET": None,
        "POST": lambda v: {"url": "https://hooks.example.com/new", "events": ["*"]},
    },
    f"{T}/webhooks/{{id}}/": {"GET": None, "PATCH": lambda v: {"active": False}, "DELETE": None},
    f"{T}/webhooks/{{id}}/deliveries/": {"GET": None},
    f"{T}/webhooks/{{id}}/deliveries/{{delivery_id}}/redeliver/": {"POST": None},
    # Catalog
    f"{T}/models/": {
        "GET": None,
        # A new name in the unit's namespace: the checks reach MLflow (a 503 when it is not there).
        "POST": lambda v: {"name": f"{v['tenant']}-new-model", "run_id": "f" * 32},
    },
    f"{T}/models/{{name}}/": {"GET": None, "PATCH": lambda v: {"owner": "Risk team"}},
    f"{T}/models/{{name}}/versions/": {"GET": None},
    f"{V}/": {"GET": None},
    f"{T}/sync/": {"GET": None, "POST": None},
    f"{T}/catalog-jobs/{{job_id}}/": {"GET": None},
    f"{API}/catalog/unassigned/": {"GET": None},
    f"{API}/catalog/conflicts/": {"GET": None},
    f"{API}/catalog/unassigned/{{name}}/assign/": {"POST": lambda v: {"tenant": "acme-retail"}},
    # Governance
    f"{T}/models/{{name}}/classification/": {
        "GET": None,
        "POST": lambda v: {"answers": ANSWERS["high"]},
    },
    f"{T}/models/{{name}}/tier-proposals/": {"GET": None},
    f"{T}/tier-proposals/": {"GET": None},
    f"{T}/tier-proposals/{{proposal_id}}/": {"GET": None},
    f"{T}/tier-proposals/{{proposal_id}}/accept/": {"POST": None},
    f"{T}/tier-proposals/{{proposal_id}}/reject/": {
        "POST": lambda v: {"comment": "It still scores credit."}
    },
    f"{V}/card/": {"GET": None, "PATCH": lambda v: {"purpose": "Scores applications."}},
    f"{V}/card/submit/": {"POST": None},
    f"{V}/card/review/": {"POST": lambda v: {"approve": False, "comment": "Say more."}},
    f"{V}/card/markdown/": {"GET": None},
    f"{V}/card/pdf/": {"GET": None},
    f"{V}/evidence/": {"GET": None},
    f"{T}/incidents/": {"GET": None, "POST": lambda v: {"title": "Slow", "severity": "sev4"}},
    f"{T}/incidents/{{incident_id}}/": {"GET": None, "PATCH": lambda v: {"severity": "sev2"}},
    f"{T}/incidents/{{incident_id}}/entries/": {"POST": lambda v: {"text": "Looking."}},
    f"{API}/approvals/": {"GET": None},
    f"{API}/approvals/{{approval_id}}/": {"GET": None},
    f"{API}/approvals/{{approval_id}}/decisions/": {
        "POST": lambda v: {"verdict": "request_changes", "comment": "Add the fairness report."}
    },
    f"{API}/approvals/{{approval_id}}/withdraw/": {"POST": None},
    f"{API}/policies/": {"GET": None, "POST": _policy},
    f"{API}/policies/dry-run/": {"POST": _dry_run},
    f"{API}/audit-events/": {"GET": None},
    f"{API}/delegations/": {"GET": None, "POST": _delegation},
    f"{API}/delegations/{{delegation_id}}/end/": {"POST": None},
    # Deployments and monitoring
    f"{T}/deployments/": {
        "GET": None,
        "POST": lambda v: {
            "model": v["_world"].a.model,
            "version": 1,
            "environment": "staging",
            "instance_type": "cpu.small",
        },
    },
    f"{T}/deployments/{{deployment_id}}/": {"GET": None},
    f"{T}/deployments/{{deployment_id}}/resubmit/": {"POST": None},
    f"{T}/deployments/{{deployment_id}}/rollback/": {"POST": lambda v: {"reason": "Errors."}},
    f"{T}/deployments/{{deployment_id}}/drift/": {"GET": None, "POST": None},
    f"{T}/deployments/{{deployment_id}}/decision-log/": {"GET": None},
    f"{T}/monitors/": {
        "GET": None,
        "POST": lambda v: {"endpoint": v["_world"].a.deployment.name},
    },
    f"{T}/monitors/{{monitor_id}}/": {"GET": None, "PATCH": lambda v: {"interval_minutes": 30}},
    f"{V}/baseline/": {"GET": None, "POST": _baseline_upload},
    # Chargeback
    f"{T}/estimates/": {
        "POST": lambda v: {"environment": "production", "instance_type": "cpu.small"}
    },
    f"{T}/budget/": {"GET": None, "PUT": lambda v: {"amount": "1000.00"}},
    f"{API}/prices/": {"GET": None},
    f"{API}/price-sources/": {"GET": None},
    f"{API}/price-sources/refresh/": {"POST": None},
    f"{API}/price-sources/{{name}}/items/": {"POST": lambda v: MANUAL_PRICE},
    f"{API}/rate-cards/": {"GET": None, "POST": lambda v: {"markup_percent": "12.5"}},
    f"{API}/rate-cards/current/": {"GET": None},
    f"{API}/statements/": {"GET": None},
    f"{API}/statements/{{statement_id}}/": {"GET": None},
    f"{API}/statements/{{statement_id}}/review/": {"POST": None},
    f"{API}/statements/{{statement_id}}/finalize/": {"POST": None},
    f"{API}/statements/{{statement_id}}/void/": {"POST": lambda v: {"reason": "Wrong month."}},
    f"{API}/statements/{{statement_id}}/credit/": {
        "POST": lambda v: {"amount": "1.00", "reason": "Goodwill.", "line": v["line"]}
    },
    f"{API}/statements/{{statement_id}}/disputes/{{dispute_id}}/reject/": {
        "POST": lambda v: {"resolution": "The usage is right."}
    },
    f"{API}/statements/{{statement_id}}/export/": {"GET": None},
    f"{T}/statements/": {"GET": None},
    f"{T}/statements/{{statement_id}}/": {"GET": None},
    f"{T}/statements/{{statement_id}}/lines/{{line_id}}/disputes/": {
        "POST": lambda v: {"comment": "We did not run this."}
    },
    f"{API}/billing-periods/": {"GET": None},
    f"{API}/billing-periods/close/": {"POST": lambda v: {"period": "2026-11"}},
    # Insights
    f"{API}/kpis/": {"GET": None},
    f"{API}/inventory/": {"GET": None},
    f"{T}/kpis/": {"GET": None},
    f"{T}/maturity/": {"GET": None, "POST": lambda v: {"answers": {}}},
    f"{T}/roi/": {"GET": None, "PUT": lambda v: {"team_size": 4}},
    # Outside the schema: the MLflow receiver (signed by MLflow, no user), the schema itself
    f"{API}/webhooks/mlflow/": {"POST": lambda v: {"entity": "model_version"}},
    "/api/schema/": {"GET": None},
    "/api/docs/": {"GET": None},
    # Pages
    "/": {"GET": None},
    "/healthz": {"GET": None},
    "/login/": {"GET": None, "POST": lambda v: {"username": "nobody", "password": "wrong"}},
    "/logout/": {"POST": None},
    "/admin/": {"GET": None},
    "/t/{tenant}/": {"GET": None},
    "/t/{tenant}/tokens/new/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/tokens/{pk}/revoke/": {"POST": None},
    "/t/{tenant}/models/": {"GET": None},
    "/t/{tenant}/models/{name}/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/models/{name}/versions/{version}/": {"GET": None},
    "/t/{tenant}/sync/": {"GET": None},
    "/t/{tenant}/sync/now/": {"POST": None},
    "/catalog/unassigned/": {"GET": None},
    "/catalog/unassigned/{name}/assign/": {"POST": lambda v: {"tenant": "acme-retail"}},
    "/governance/approvals/": {"GET": None},
    "/governance/approvals/{approval_id}/": {
        "GET": None,
        "POST": lambda v: {"verdict": "request_changes", "comment": "Add the fairness report."},
    },
    "/governance/policies/": {"GET": None},
    "/governance/policies/{name}/": {"GET": None, "POST": lambda v: {}},
    "/governance/audit/": {"GET": None},
    "/governance/audit/verify/": {"POST": None},
    "/governance/delegations/": {"GET": None, "POST": _delegation},
    "/governance/delegations/{delegation_id}/end/": {"POST": None},
    "/t/{tenant}/models/{name}/classification/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/models/{name}/tier-proposals/{proposal_id}/decision/": {
        "POST": lambda v: {"verdict": "reject", "comment": "It still scores credit."}
    },
    "/t/{tenant}/models/{name}/versions/{version}/card/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/incidents/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/incidents/{incident_id}/": {
        "GET": None,
        "POST": lambda v: {"action": "note", "text": "Looking."},
    },
    "/t/{tenant}/deployments/": {"GET": None},
    "/t/{tenant}/deployments/new/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/deployments/{deployment_id}/": {"GET": None},
    "/t/{tenant}/deployments/{deployment_id}/rollback/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/deployments/{deployment_id}/drift/": {"GET": None},
    "/t/{tenant}/deployments/{deployment_id}/decision-log/": {"GET": None},
    "/serving/": {"GET": None},
    "/t/{tenant}/costs/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/statements/{statement_id}/": {
        "GET": None,
        "POST": lambda v: {"action": "dispute", "line": v["line"], "comment": "Wrong."},
    },
    "/finance/statements/": {"GET": None, "POST": lambda v: {}},
    "/finance/close/": {"POST": lambda v: {"month": "2026-09"}},
    "/prices/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/maturity/": {"GET": None, "POST": lambda v: {}},
    "/t/{tenant}/roi/": {"GET": None, "POST": lambda v: {"team_size": "4"}},
    "/t/{tenant}/kpis/": {"GET": None},
    "/kpis/": {"GET": None},
    "/inventory/": {"GET": None},
    "/inventory/export.csv": {"GET": None},
    # The inference gateway
    "/serve/{tenant}/{deployment}/invocations": {"POST": lambda v: PREDICTION},
    "/serve/{tenant}/{deployment}/ping": {"GET": None},
}

# --- Callers ----------------------------------------------------------------------------------


def is_api(route: str) -> bool:
    return route.startswith(API) and route != f"{API}/webhooks/mlflow/"


@dataclass
class Caller:
    """One role's clients: DRF's for the API, Django's (a browser session) for everything else."""

    role: str
    api: APIClient
    browser: Client
    session: str | None = None

    def reset_cookies(self) -> None:
        """Forget cookies a response set (messages, a logout), keeping the session."""
        self.browser.cookies.clear()
        if self.session:
            self.browser.cookies[settings.SESSION_COOKIE_NAME] = self.session


def make_callers(world: World) -> dict[str, Caller]:
    callers = {}
    for role in ROLES:
        api, browser = APIClient(), Client()
        session = None
        if role.startswith("token:"):
            secret = world.tokens[role.removeprefix("token:")]
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
            browser.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        elif role != "anonymous":
            user = getattr(world.company, PEOPLE[role])
            api.force_authenticate(user=user)
            browser.force_login(user)
            session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        callers[role] = Caller(role=role, api=api, browser=browser, session=session)
    return callers


def call(caller: Caller, world: World, route: str, method: str, obj: str):
    values = values_for(world, route, obj)
    path = url_for(route, values)
    make_body = ROUTES[route][method]
    body = make_body({**values, "_world": world}) if make_body else None
    if is_api(route):
        if isinstance(body, dict) and any(isinstance(v, SimpleUploadedFile) for v in body.values()):
            return caller.api.generic(method, path, **_multipart(caller.api, body))
        if body is None:
            return caller.api.generic(method, path)
        return caller.api.generic(
            method, path, json.dumps(body, default=str), content_type="application/json"
        )
    try:
        if route.startswith("/serve/") or route == f"{API}/webhooks/mlflow/":
            data = json.dumps(body) if body is not None else ""
            return caller.browser.generic(method, path, data, content_type="application/json")
        if method == "POST":
            return caller.browser.post(path, body or {})
        return caller.browser.generic(method, path)
    finally:
        caller.reset_cookies()


def _multipart(client: APIClient, body: dict) -> dict:
    from django.test.client import MULTIPART_CONTENT, encode_multipart

    boundary = "authz-boundary"
    return {
        "data": encode_multipart(boundary, body),
        "content_type": f"{MULTIPART_CONTENT[: MULTIPART_CONTENT.index('=') + 1]}{boundary}",
    }
