"""A unit's statement: its lines grouped by service and deployment, totals, state and number,
disputes, and the exports. Owners dispute a line with a comment; finance acts on it here too.

Members of the unit and finance read it; a statement of another unit is the same 404 as a
missing one (it is looked up through the unit in scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from chargeback.exports import EXPORT_FORMATS
from chargeback.forms import DisputeForm
from chargeback.models import (
    CreditNote,
    DisputeState,
    LineDispute,
    LineKind,
    Statement,
    StatementLine,
    StatementState,
)
from chargeback.selectors import is_finance
from chargeback.services.statements import FROZEN, line_dispute
from chargeback.views.actions import FINANCE_ACTIONS, Failure, finance_act
from chargeback.views.costs import SERVICE_LABELS, require_reader
from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants.routing import TenantRequest, tenant_page

ZERO = Decimal("0.00")


@dataclass
class DeploymentGroup:
    label: str
    lines: list[StatementLine]
    total: Decimal


@dataclass
class ServiceGroup:
    key: str
    label: str
    total: Decimal
    deployments: list[DeploymentGroup] = field(default_factory=list)


def _deployment_label(line: StatementLine) -> str:
    if line.kind == LineKind.CREDIT:
        return "Credit notes"
    if line.deployment_id:
        return line.resource_name or f"deployment {line.deployment_id}"
    return "Other resources" if line.kind == LineKind.USAGE else "Shared"


def _service_key(line: StatementLine) -> str:
    return "credit" if line.kind == LineKind.CREDIT else line.service


def _sum(lines: list[StatementLine]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def group_lines(lines: list[StatementLine]) -> list[ServiceGroup]:
    """Lines by service, then by deployment, in statement order (credit notes last)."""
    groups: list[ServiceGroup] = []
    for key, by_service in groupby(lines, key=_service_key):
        rows = list(by_service)
        label = "Credit notes" if key == "credit" else SERVICE_LABELS.get(key, key.capitalize())
        group = ServiceGroup(key=key, label=label, total=_sum(rows))
        for name, by_deployment in groupby(rows, key=_deployment_label):
            members = list(by_deployment)
            group.deployments.append(DeploymentGroup(name, members, _sum(members)))
        groups.append(group)
    return groups


def _lines(statement: Statement) -> list[StatementLine]:
    return list(
        StatementLine.objects.filter(statement=statement)
        .prefetch_related(Prefetch("disputes", queryset=LineDispute.objects.order_by("id")))
        .order_by("position")
    )


def _dispute(request: TenantRequest, statement: Statement) -> tuple[str, Failure | None]:
    raw = request.POST.get("line", "")
    line = (
        StatementLine.objects.filter(pk=int(raw), statement=statement)
        .select_related("statement")
        .first()
        if raw.isdecimal() and len(raw) < 12
        else None
    )
    if line is None:
        return "", Failure("dispute", 0, {"general": ["That line is not on this statement."]})
    form = DisputeForm(request.POST)
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return "", Failure("dispute", line.pk, errors, {"comment": request.POST.get("comment", "")})
    try:
        line_dispute(
            actor=Actor.user(request.user),
            user=request.user,
            line=line,
            comment=form.cleaned_data["comment"],
        )
    except PortalError as problem:
        return "", Failure(
            "dispute",
            line.pk,
            {"comment": [problem.detail]},
            {"comment": form.cleaned_data["comment"]},
        )
    return f"Your dispute of line {line.position} is sent to finance.", None


@tenant_page(None)
def tenant_statement(request: TenantRequest, statement_id: int) -> HttpResponse:
    require_reader(request)
    statement = get_object_or_404(
        Statement.objects.select_related("period", "tenant"), pk=statement_id
    )
    finance = is_finance(request.user)
    can_dispute = "manage" in request.capabilities and statement.state != StatementState.VOID
    failure: Failure | None = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "dispute":
            if not can_dispute:
                raise PermissionDenied("Only the unit's owners dispute its statements.")
            done, failure = _dispute(request, statement)
        elif action in FINANCE_ACTIONS:
            if not finance:
                raise PermissionDenied("Only finance and platform admins act on statements.")
            done, failure = finance_act(request, statement)
        else:
            done, failure = "", Failure(action, 0, {"general": ["Choose an action."]})
        if failure is None:
            messages.success(request, done)
            return redirect(
                "tenant-statement", tenant=request.tenant.slug, statement_id=statement.pk
            )
        statement.refresh_from_db()
    lines = _lines(statement)
    return render(
        request,
        "chargeback/statement.html",
        _context(request, statement, lines, finance, can_dispute, failure),
        status=400 if failure else 200,
    )


def _dispute_line(request: TenantRequest, failure: Failure | None) -> int | None:
    """The line whose dispute form is open: the one a dispute just failed on, else the one the
    person chose (``?dispute=<line>``); the other lines show a link to theirs."""
    if failure is not None:
        return failure.target if failure.action == "dispute" else None
    raw = request.GET.get("dispute", "")
    return int(raw) if raw.isdecimal() and len(raw) < 12 else None


def _context(
    request: TenantRequest,
    statement: Statement,
    lines: list[StatementLine],
    finance: bool,
    can_dispute: bool,
    failure: Failure | None,
) -> dict[str, Any]:
    export = reverse("api-statement-export", kwargs={"statement_id": statement.pk})
    groups = group_lines(lines)
    return {
        "tenant": request.tenant,
        "statement": statement,
        "groups": groups,
        "line_count": len(lines),
        "service_totals": [(group.label, group.total) for group in groups],
        "credit_notes": list(CreditNote.objects.filter(statement=statement).order_by("id")),
        "exports": [
            (f.upper() if f != "focus" else "FOCUS 1.2", f"{export}?format={f}")
            for f in EXPORT_FORMATS
        ],
        "is_finance": finance,
        "can_act": finance and statement.state not in FROZEN,
        "can_settle": finance and statement.state != StatementState.VOID,
        "can_dispute": can_dispute,
        "dispute_line": _dispute_line(request, failure),
        "disputed": {
            line.pk
            for line in lines
            if any(d.state == DisputeState.OPEN for d in line.disputes.all())
        },
        "failure": failure,
    }
