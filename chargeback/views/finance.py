"""Finance's review queue across units: totals by unit and month, statements filtered by state
and month, and the actions: put in review, finalize, void with a reason, and settle open
disputes with a credit note (or reject them).

Only finance and platform admins open it; anyone else gets a 403, as on the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chargeback.forms import StatementFilterForm
from chargeback.models import DisputeState, LineDispute, Statement, StatementState
from chargeback.services.close import parse_month
from chargeback.services.statements import FROZEN
from chargeback.statement_api import is_finance, visible_statements
from chargeback.views.actions import FINANCE_ACTIONS, Failure, finance_act

PAGE_SIZE = 25
PIVOT_MONTHS = 6
DISPUTES_LISTED = 50
ZERO = Decimal("0.00")


def _finance_only(request: HttpRequest) -> None:
    if not is_finance(request.user):
        raise PermissionDenied("The review queue is open to finance and platform admins.")


@dataclass
class PivotRow:
    tenant: str
    slug: str
    cells: list[Statement | None]
    total: Decimal


@dataclass
class Pivot:
    """Totals by unit (rows) and month (columns); void statements count 0."""

    months: list[date] = field(default_factory=list)
    rows: list[PivotRow] = field(default_factory=list)
    month_totals: list[Decimal] = field(default_factory=list)
    total: Decimal = ZERO


def _counted(statement: Statement | None) -> Decimal:
    if statement is None or statement.state == StatementState.VOID:
        return ZERO
    return statement.total


def totals_by_tenant_and_month(statements: QuerySet[Statement]) -> Pivot:
    months = list(
        statements.values_list("period__month", flat=True)
        .distinct()
        .order_by("-period__month")[:PIVOT_MONTHS]
    )
    months.reverse()
    cells: dict[tuple[int, date], Statement] = {}
    names: dict[int, tuple[str, str]] = {}
    for statement in statements.filter(period__month__in=months).select_related("tenant", "period"):
        cells[(statement.tenant_id, statement.period.month)] = statement
        names[statement.tenant_id] = (statement.tenant.name, statement.tenant.slug)
    pivot = Pivot(months=months)
    for tenant_id, (name, slug) in sorted(names.items(), key=lambda item: item[1][0].lower()):
        row = [cells.get((tenant_id, month)) for month in months]
        pivot.rows.append(PivotRow(name, slug, row, sum((_counted(s) for s in row), ZERO)))
    pivot.month_totals = [
        sum((_counted(cells.get((tenant_id, month))) for tenant_id in names), ZERO)
        for month in months
    ]
    pivot.total = sum(pivot.month_totals, ZERO)
    return pivot


def _filtered(request: HttpRequest, form: StatementFilterForm) -> QuerySet[Statement]:
    statements = visible_statements(request.user)
    if not form.is_bound:
        return statements
    if not form.is_valid():
        return statements.none()
    if state := form.cleaned_data["state"]:
        statements = statements.filter(state=state)
    if month := form.cleaned_data["month"]:
        statements = statements.filter(period__month=parse_month(month))
    return statements


def _open_disputes() -> list[LineDispute]:
    # Finance settles disputes of every unit; the caller checked the role.
    return list(
        LineDispute.objects.dangerously_across_tenants()
        .filter(state=DisputeState.OPEN)
        .select_related("line__statement__period", "line__statement__tenant")
        .order_by("created_at", "id")[:DISPUTES_LISTED]
    )


def _open_dispute_count() -> Coalesce:
    """Open disputes of each listed statement: a subquery, evaluated for the page's rows only
    (a join through every line of every statement made the queue slower each month)."""
    # Finance settles disputes of every unit; the statements it counts for are filtered already.
    counts = (
        LineDispute.objects.dangerously_across_tenants()
        .filter(line__statement=OuterRef("pk"), state=DisputeState.OPEN)
        .order_by()
        .values("line__statement")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def _act(request: HttpRequest) -> tuple[str, Failure | None]:
    raw = request.POST.get("statement", "")
    statement = (
        visible_statements(request.user).filter(pk=int(raw)).first()
        if raw.isdecimal() and len(raw) < 12
        else None
    )
    if statement is None:
        raise Http404("No such statement.")
    if request.POST.get("action") not in FINANCE_ACTIONS:
        return "", Failure("", statement.pk, {"general": ["Choose an action."]})
    return finance_act(request, statement)


@login_required
def finance_statements(request: HttpRequest) -> HttpResponse:
    _finance_only(request)
    failure: Failure | None = None
    if request.method == "POST":
        done, failure = _act(request)
        if failure is None:
            messages.success(request, done)
            return redirect(request.get_full_path())
    form = StatementFilterForm(request.GET or None)
    statements = _filtered(request, form)
    listed = statements.annotate(open_disputes=_open_dispute_count()).order_by(
        "-period__month", "tenant__slug", "id"
    )
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "pivot": totals_by_tenant_and_month(statements),
        "disputes": _open_disputes(),
        "frozen": FROZEN,
        "failure": failure,
    }
    return render(request, "chargeback/finance_queue.html", context, status=400 if failure else 200)
