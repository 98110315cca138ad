"""Deployment pages: a unit's deployments, the request form, one revision with its endpoint's
revisions and traffic, and the rollback confirmation; for platform admins, the local model
servers (where they listen, their pids and sandboxes, which no unit sees).

Views are thin: they look deployments up through the tenant in scope (another unit's deployment
is a 404), call ``deployment_request`` or ``deployment_rollback``, and show a domain error next to
the field it concerns or on the page instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from chargeback.models import PriceService
from chargeback.selectors import known_instance_types
from chargeback.services.estimates import Estimate, estimate
from chargeback.services.prices import price_catalog_ensure
from governance.models import ApprovalRequest
from governance.services.approvals import requirements_text
from portal.catalog.models import RegisteredModel
from portal.core.audit import Actor
from portal.core.errors import PortalError
from portal.core.paging import paginate
from portal.deployments import sandbox
from portal.deployments.filters import ORDERINGS, DeploymentFilter
from portal.deployments.forms import DeploymentRequestForm, RollbackForm
from portal.deployments.models import Deployment, DeploymentState, GatewayMinute
from portal.deployments.rollout import deployment_rollback
from portal.deployments.selectors import (
    deployments_listed,
    local_model_servers,
    suspension_of,
)
from portal.deployments.services import DeploymentSpec
from portal.deployments.workflow import deployment_request
from portal.monitoring.selectors import drift_status_by_deployment
from tenants.access import platform_role_of
from tenants.models import PlatformRole
from tenants.routing import TenantRequest, tenant_page

TRAFFIC_MINUTES = 60
MODEL_NAMES_LISTED = 500
ROLLING_OUT = {DeploymentState.APPROVED, DeploymentState.DEPLOYING, DeploymentState.LIVE}
OUTCOMES = {
    "allow": "Approved by the policy",
    "require_approvals": "Needs approval",
    "deny": "Refused by the policy",
}
# The first words of a service's refusal, to the form field it is about.
ERROR_FIELDS = (
    ("environment", "environment"),
    ("target", "target"),
    ("instance_type", "instance_type"),
    ("There is no price for instance type", "instance_type"),
    ("replicas", "replicas"),
    ("canary_weight", "canary_weight"),
    ("A shadow revision", "canary_weight"),
    ("name must", "name"),
    ("The endpoint", "name"),
    ("This version", "version"),
)


def _deployments() -> QuerySet[Deployment]:
    return Deployment.objects.select_related("model_version__model")


# --- the list -------------------------------------------------------------------------------------


@tenant_page("read")
def deployment_list(request: TenantRequest) -> HttpResponse:
    filters = DeploymentFilter(
        request.GET or None, queryset=deployments_listed().order_by(*ORDERINGS["endpoint"])
    )
    listing = paginate(request, filters.listed())
    return render(
        request,
        "deployments/list.html",
        {
            "tenant": request.tenant,
            "form": filters.form,
            **listing,
            "drift_statuses": drift_status_by_deployment(d.pk for d in listing["page"]),
            "by_endpoint": not filters.newest_first,
            "can_request": "write" in request.capabilities,
        },
    )


# --- the request form -----------------------------------------------------------------------------


def _estimate(request: TenantRequest, plan: dict[str, Any]) -> tuple[Estimate | None, str]:
    """The cost of a planned deployment, or why it cannot be priced (yet)."""
    needed = ("environment", "target", "instance_type", "replicas")
    if not all(plan.get(name) for name in needed):
        return None, ""
    try:
        found = estimate(
            tenant=request.tenant,
            environment=plan["environment"],
            target=plan["target"],
            instance_type=plan["instance_type"],
            replicas=plan["replicas"],
            drift_monitor=bool(plan.get("drift_monitor")),
        )
    except PortalError as problem:
        return None, problem.detail
    return found, ""


def _field_of(detail: str) -> str | None:
    return next((field for start, field in ERROR_FIELDS if detail.startswith(start)), None)


def _decided(deployment: Deployment) -> str | SafeString:
    """What the policy decided, as the message shown after a request."""
    where = f"revision {deployment.revision} of '{deployment.name}'"
    where_first = where[0].upper() + where[1:]
    reasons = " ".join((deployment.decision or {}).get("reasons") or [])
    if deployment.state in ROLLING_OUT:
        return f"Approved by the policy: {where} is rolling out. {reasons}".strip()
    if deployment.state == DeploymentState.PENDING_APPROVAL:
        approval = _latest_approval(deployment)
        needs = requirements_text((deployment.decision or {}).get("requirements") or {})
        if approval is None:
            return f"{where_first} waits for approval by {needs}."
        return format_html(
            '{} waits for approval by {}. <a href="{}">Open the approval request</a>.',
            where_first,
            needs,
            reverse("approval-page", kwargs={"approval_id": approval.pk}),
        )
    if deployment.state == DeploymentState.REJECTED:
        return f"The policy rejected the request: {reasons or 'it gave no reason.'}"
    return f"The request is {deployment.get_state_display().lower()}."


def _request_context(request: TenantRequest, form: DeploymentRequestForm) -> dict[str, Any]:
    price_catalog_ensure()
    return {
        "tenant": request.tenant,
        "form": form,
        "model_names": RegisteredModel.objects.order_by("name").values_list("name", flat=True)[
            :MODEL_NAMES_LISTED
        ],
        "instance_types": known_instance_types(service=PriceService.INFERENCE),
    }


def _initial(request: TenantRequest) -> dict[str, Any]:
    initial = {name: field.initial for name, field in DeploymentRequestForm.base_fields.items()}
    initial.update({k: v for k, v in request.GET.items() if k in ("model", "version") and v})
    return initial


def _submit(request: TenantRequest, form: DeploymentRequestForm) -> Deployment | None:
    """Ask for the deployment; a refusal lands next to its field and returns None."""
    data = form.cleaned_data
    try:
        spec = DeploymentSpec(
            version=data["model_version"],
            environment=data["environment"],
            target=data["target"],
            instance_type=data["instance_type"],
            replicas=data["replicas"],
            canary_weight=data["canary_weight"],
            drift_monitor=data["drift_monitor"],
            shadow=data["shadow"],
            name=data["name"],
        )
        return deployment_request(
            actor=Actor.user(request.user), tenant=request.tenant, spec=spec, user=request.user
        )
    except PortalError as problem:
        form.add_error(_field_of(problem.detail), problem.detail)
        return None


@tenant_page("write")
def deployment_request_page(request: TenantRequest) -> HttpResponse:
    """The request form. "Show cost" prices the plan; "Request deployment" submits it."""
    if request.method != "POST":
        initial = _initial(request)
        form = DeploymentRequestForm(initial=initial)
        cost, cost_error = _estimate(request, initial)
        context = {**_request_context(request, form), "cost": cost, "cost_error": cost_error}
        return render(request, "deployments/request.html", context)
    form = DeploymentRequestForm(request.POST)
    requesting = request.POST.get("action") == "request"
    if form.is_valid() and requesting:
        deployment = _submit(request, form)
        if deployment is not None:
            messages.info(request, _decided(deployment))
            return redirect(
                "deployment-page", tenant=request.tenant.slug, deployment_id=deployment.pk
            )
    cost, cost_error = _estimate(request, form.cleaned_data)
    context = {**_request_context(request, form), "cost": cost, "cost_error": cost_error}
    return render(
        request,
        "deployments/request.html",
        context,
        status=400 if requesting or form.errors else 200,
    )


# --- one deployment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    points: str
    peak: float
    label: str


@dataclass(frozen=True)
class Traffic:
    requests: int
    errors: int
    captured: int
    dropped: int
    mean_latency_ms: float | None
    max_latency_ms: float | None
    requests_per_minute: float
    requests_line: Sparkline
    latency_line: Sparkline
    by_revision: list[dict[str, Any]]


def _sparkline(values: list[float], label: str, width: int = 240, height: int = 40) -> Sparkline:
    peak = max(values, default=0.0)
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{round(i * step, 1)},{round(height - 2 - (v / peak if peak else 0) * (height - 4), 1)}"
        for i, v in enumerate(values)
    )
    return Sparkline(width=width, height=height, points=points, peak=peak, label=label)


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


def _empty_revision_row(revision: int) -> dict[str, Any]:
    return {
        "revision": revision,
        "requests": 0,
        "errors": 0,
        "total": 0.0,
        "max": 0.0,
        "captured": 0,
        "dropped": 0,
    }


def _traffic(deployment: Deployment, now: datetime) -> Traffic:
    """The endpoint's gateway minutes of the last hour: totals, per revision, and per minute."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=TRAFFIC_MINUTES - 1)
    rows = GatewayMinute.objects.filter(
        deployment__name=deployment.name, minute__gte=start
    ).values_list(
        "deployment__revision",
        "minute",
        "requests",
        "errors",
        "latency_ms_total",
        "latency_ms_max",
        "captured",
        "dropped",
    )
    counts = [0] * TRAFFIC_MINUTES
    totals = [0.0] * TRAFFIC_MINUTES
    revisions: dict[int, dict[str, Any]] = {}
    for revision, minute, requests, errors, total, peak, captured, dropped in rows:
        index = int((minute - start).total_seconds() // 60)
        if 0 <= index < TRAFFIC_MINUTES:
            counts[index] += requests
            totals[index] += total
        row = revisions.setdefault(revision, _empty_revision_row(revision))
        row["requests"] += requests
        row["errors"] += errors
        row["total"] += total
        row["max"] = max(row["max"], peak)
        row["captured"] += captured
        row["dropped"] += dropped
    for row in revisions.values():
        row["mean"] = _mean(row["total"], row["requests"])
    by_revision = sorted(revisions.values(), key=lambda r: -r["revision"])
    requests = sum(r["requests"] for r in by_revision)
    return Traffic(
        requests=requests,
        errors=sum(r["errors"] for r in by_revision),
        captured=sum(r["captured"] for r in by_revision),
        dropped=sum(r["dropped"] for r in by_revision),
        mean_latency_ms=_mean(sum(r["total"] for r in by_revision), requests),
        max_latency_ms=max((r["max"] for r in by_revision), default=None) if requests else None,
        requests_per_minute=requests / TRAFFIC_MINUTES,
        requests_line=_sparkline([float(n) for n in counts], "requests per minute"),
        latency_line=_sparkline(
            [_mean(t, n) or 0.0 for n, t in zip(counts, totals, strict=True)],
            "mean latency (ms) per minute",
        ),
        by_revision=by_revision,
    )


def _rollback_plan(
    revisions: list[Deployment], now: datetime
) -> tuple[Deployment, Deployment] | None:
    """(the revision serving now, the warm earlier one a rollback returns to), or None.

    The same reading of the endpoint as ``rollout.deployment_rollback``, which decides for real.
    """
    live = [r for r in revisions if r.state == DeploymentState.LIVE and not r.shadow]
    serving = [r for r in live if r.traffic_weight]
    if not serving:
        return None
    newest = serving[0]
    older = [
        r
        for r in live
        if r.revision < newest.revision
        and (r.serving or {}).get("state") == "ready"
        and (r.traffic_weight or r.warm_until is None or r.warm_until > now)
    ]
    return (newest, older[0]) if older else None


def _endpoint_revisions(deployment: Deployment) -> list[Deployment]:
    return list(_deployments().filter(name=deployment.name).order_by("-revision"))


def _latest_approval(deployment: Deployment) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(deployment=deployment).order_by("-created_at").first()


def _example_body(deployment: Deployment) -> str:
    inputs = ((deployment.model_version.signature or {}).get("inputs")) or []
    columns = [c.get("name") for c in inputs if isinstance(c, dict) and c.get("name")]
    samples = {"string": "", "boolean": False, "binary": ""}
    row = [
        samples.get(str(c.get("type")), 0) for c in inputs if isinstance(c, dict) and c.get("name")
    ]
    return json.dumps({"dataframe_split": {"columns": columns, "data": [row]}})


def gateway_url(deployment: Deployment) -> str:
    return (
        f"{settings.PORTAL_BASE_URL}/serve/{deployment.tenant.slug}/{deployment.name}/invocations"
    )


def example_curl(deployment: Deployment) -> str:
    body = _example_body(deployment).replace("'", "'\\''")
    return (
        f'curl -X POST "{gateway_url(deployment)}" \\\n'
        '  -H "Authorization: Bearer $TOKEN" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'"
    )


@tenant_page("read")
def deployment_page(request: TenantRequest, deployment_id: int) -> HttpResponse:
    deployment = get_object_or_404(
        _deployments().select_related("policy_version", "tenant"), pk=deployment_id
    )
    now = timezone.now()
    revisions = _endpoint_revisions(deployment)
    plan = _rollback_plan(revisions, now)
    decision = deployment.decision or {}
    return render(
        request,
        "deployments/deployment.html",
        {
            "tenant": request.tenant,
            "deployment": deployment,
            "version": deployment.model_version,
            "revisions": revisions,
            "decision": decision,
            "outcome": OUTCOMES.get(decision.get("outcome", ""), "Not decided yet"),
            "needs": requirements_text(decision.get("requirements") or {}),
            "approval": _latest_approval(deployment),
            "suspension": suspension_of(deployment),
            "traffic": _traffic(deployment, now),
            "drift": drift_status_by_deployment([deployment.pk])[deployment.pk],
            "gateway_url": gateway_url(deployment),
            "curl": example_curl(deployment),
            "has_signature": bool((deployment.model_version.signature or {}).get("inputs")),
            "plan": plan,
            "can_roll_back": plan is not None and "deploy" in request.capabilities,
            "can_request": "write" in request.capabilities,
        },
    )


@tenant_page("deploy")
def deployment_rollback_page(request: TenantRequest, deployment_id: int) -> HttpResponse:
    """Confirm, then give the endpoint's traffic back to its warm earlier revision."""
    deployment = get_object_or_404(_deployments(), pk=deployment_id)
    form = RollbackForm(request.POST if request.method == "POST" else None)
    error, status = "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                serving = deployment_rollback(
                    actor=Actor.user(request.user),
                    deployment=deployment,
                    reason=form.cleaned_data["reason"].strip(),
                )
            except PortalError as problem:
                error, status = problem.detail, problem.status_code
            else:
                messages.success(
                    request,
                    f"Rolled back: revision {serving.revision} (v{serving.model_version.version}) "
                    f"of '{serving.name}' takes all the traffic again.",
                )
                return redirect(
                    "deployment-page", tenant=request.tenant.slug, deployment_id=serving.pk
                )
    return render(
        request,
        "deployments/rollback.html",
        {
            "tenant": request.tenant,
            "deployment": deployment,
            "plan": _rollback_plan(_endpoint_revisions(deployment), timezone.now()),
            "form": form,
            "error": error,
        },
        status=status,
    )


@login_required
def serving_page(request: HttpRequest) -> HttpResponse:
    """The local model servers of every unit: socket, pid, sandbox and health."""
    if platform_role_of(request.user) != PlatformRole.PLATFORM_ADMIN:
        raise PermissionDenied("Only platform admins see the model servers.")
    return render(
        request,
        "deployments/serving.html",
        {
            "sandbox_off": settings.SERVING_SANDBOX == "off",
            "sandbox_warning": sandbox.OFF_WARNING,
            **paginate(request, local_model_servers()),
        },
    )
