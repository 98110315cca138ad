"""Finance's review queue across units: totals by unit and month, statements filtered by state
and month, and the actions: put in review, finalize, void with a reason, and settle open
disputes with a credit note (or reject them). The month close is followed here too, and a month
that has ended can be queued for its close.

Only finance and platform admins open it; anyone else gets a 403, as on the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from chargeback.filters import STATEMENT_PAGE_FILTERS, StatementFilter
from chargeback.forms import MonthCloseForm
from chargeback.models import (
    BillingPeriod,
    DisputeState,
    LineDispute,
    PeriodState,
    Statement,
    StatementState,
)
from chargeback.selectors import is_finance, month_closes, visible_statements
from chargeback.services.close import (
    billing_period_close_queue,
    month_to_close,
    previous_month,
)
from chargeback.services.statements import FROZEN
from chargeback.views.actions import FINANCE_ACTIONS, Failure, finance_act
from portal.core.audit import Actor
from portal.core.errors import PortalError
from portal.core.paging import paginate
from portal.core.queued import queued_address
from tenants.access import FINANCE_ROLES
from tenants.routing import platform_page

PIVOT_MONTHS = 6
DISPUTES_LISTED = 50
CLOSES_LISTED = 6
ZERO = Decimal("0.00")


finance_only = platform_page(
    FINANCE_ROLES, "The review queue is open to finance and platform admins."
)


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


def _queue_page(
    request: HttpRequest,
    *,
    failure: Failure | None = None,
    close_form: MonthCloseForm | None = None,
) -> HttpResponse:
    filters = StatementFilter(
        request.GET or None,
        queryset=visible_statements(request.user),
        only=STATEMENT_PAGE_FILTERS,
    )
    statements = filters.listed()
    listed = statements.annotate(open_disputes=_open_dispute_count()).order_by(
        "-period__month", "tenant__slug", "id"
    )
    if close_form is None:
        close_form = MonthCloseForm(initial={"month": f"{previous_month(timezone.now()):%Y-%m}"})
    context: dict[str, Any] = {
        "form": filters.form,
        **paginate(request, listed),
        "pivot": totals_by_tenant_and_month(statements),
        "disputes": _open_disputes(),
        "frozen": FROZEN,
        "failure": failure,
        "closes": month_closes(months=CLOSES_LISTED, request=request),
        "close_form": close_form,
    }
    failed = failure is not None or close_form.is_bound
    return render(request, "chargeback/finance_queue.html", context, status=400 if failed else 200)


def month_close_region(request: HttpRequest, *, months: int) -> HttpResponse | None:
    """The month-close region alone, when a page's live refresh asks for it (htmx polls the
    region with ``HX-Request`` and ``HX-Target: month-close``, see portal/_live.html): the pages
    that show it would otherwise compute all the rest again every three seconds while a close
    runs. None for any other request, and for people who do not see month closes (finance and
    platform admins do)."""
    polled = request.headers.get("HX-Request") == "true"
    if not polled or request.headers.get("HX-Target") != "month-close":
        return None
    if not is_finance(request.user):
        return None
    closes = month_closes(months=months, request=request)
    return render(request, "chargeback/_month_close.html", {"closes": closes})


@login_required
@finance_only
def finance_statements(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and (region := month_close_region(request, months=CLOSES_LISTED)):
        return region
    if request.method == "POST":
        done, failure = _act(request)
        if failure is not None:
            return _queue_page(request, failure=failure)
        messages.success(request, done)
        return redirect(request.get_full_path())
    return _queue_page(request)


def _refusal(label: str) -> str | None:
    """Why the month cannot be queued for a close now, if it cannot."""
    try:
        month = month_to_close(label, now=timezone.now())
    except PortalError as problem:
        return problem.detail
    if BillingPeriod.objects.filter(month=month, state=PeriodState.CLOSED).exists():
        return f"{label} is closed already: its statements are listed below."
    return None


@require_POST
@login_required
@finance_only
def finance_close(request: HttpRequest) -> HttpResponse:
    """Queue a month's close (as POST /api/v1/billing-periods/close/ does) and follow it."""
    form = MonthCloseForm(request.POST)
    if form.is_valid() and (refusal := _refusal(form.cleaned_data["month"])):
        form.add_error("month", refusal)
    if not form.is_valid():
        return _queue_page(request, close_form=form)
    label = form.cleaned_data["month"]
    billing_period_close_queue(actor=Actor.user(request.user), label=label)
    messages.success(request, f"The close of {label} is queued; the month close below follows it.")
    return redirect(queued_address(reverse("finance-statements")) + "#month-close")
