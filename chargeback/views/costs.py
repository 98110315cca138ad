"""The unit's cost page: month to date, the forecast, the budget bar, where the money goes this
month, the last twelve months, and past statements. Owners and finance set the budget here.

Members of the unit (any role) and finance read it; another unit's people get the same 404 as a
missing unit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render

from chargeback.charts import budget_bar, column_chart, hbar_chart
from chargeback.forms import BudgetForm
from chargeback.models import PriceService, Statement
from chargeback.services.budgets import (
    BudgetStatus,
    Slice,
    breakdown_by_deployment,
    breakdown_by_service,
    budget_set,
    budget_status,
    spend_by_month,
    top_slices,
)
from chargeback.services.rating import PLATFORM_SERVICE
from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants.routing import TenantRequest, tenant_page

READERS = {"read", "billing"}
SETTERS = {"manage", "billing"}
STATEMENTS_LISTED = 24
DEPLOYMENTS_CHARTED = 12  # the rest are one bar; the statement lists every line
SERVICE_LABELS = {**dict(PriceService.choices), PLATFORM_SERVICE: "Platform overhead"}


def require_reader(request: TenantRequest) -> None:
    if not READERS & request.capabilities:
        raise PermissionDenied("Your role in this unit does not show its costs.")


def _initial(status: BudgetStatus) -> dict[str, Any]:
    if status.budget is None:
        return {"thresholds": "50, 80, 100"}
    return {
        "amount": status.budget.amount,
        "thresholds": ", ".join(str(t) for t in status.budget.thresholds),
    }


def _set_budget(request: TenantRequest, form: BudgetForm) -> bool:
    try:
        budget_set(
            actor=Actor.user(request.user),
            tenant=request.tenant,
            user=request.user,
            amount=form.cleaned_data["amount"],
            thresholds=form.cleaned_data["thresholds"],
        )
    except PortalError as problem:
        form.add_error("thresholds" if "hreshold" in problem.detail else "amount", problem.detail)
        return False
    return True


@tenant_page(None)
def tenant_costs(request: TenantRequest) -> HttpResponse:
    require_reader(request)
    can_set_budget = bool(SETTERS & request.capabilities)
    form, status_code = None, 200
    if request.method == "POST":
        if not can_set_budget:
            raise PermissionDenied("Only the unit's owners and finance set its budget.")
        form = BudgetForm(request.POST)
        if form.is_valid() and _set_budget(request, form):
            messages.success(
                request,
                f"The monthly budget is {form.cleaned_data['amount']}; alerts at "
                f"{', '.join(f'{t}%' for t in form.cleaned_data['thresholds'])}.",
            )
            return redirect("tenant-costs", tenant=request.tenant.slug)
        status_code = 400
    status = budget_status(tenant=request.tenant)
    spend = status.spend
    if form is None:
        form = BudgetForm(initial=_initial(status))
    by_service = [
        Slice(SERVICE_LABELS.get(row.label, row.label), row.amount)
        for row in breakdown_by_service(spend)
    ]
    bar = None
    if status.budget is not None:
        bar = budget_bar(
            budget=status.budget.amount,
            spent=spend.month_to_date,
            forecast=spend.forecast,
            thresholds=status.budget.thresholds,
        )
    months = spend_by_month(tenant=request.tenant, current=spend)
    return render(
        request,
        "chargeback/costs.html",
        {
            "tenant": request.tenant,
            "status": status,
            "spend": spend,
            "bar": bar,
            "by_service": hbar_chart(by_service),
            "by_deployment": hbar_chart(
                top_slices(
                    breakdown_by_deployment(spend),
                    keep=DEPLOYMENTS_CHARTED,
                    rest="{count} other deployments and resources",
                )
            ),
            "months": column_chart(months),
            "month_rows": list(reversed(months)),
            "statements": Statement.objects.select_related("period").order_by(
                "-period__month", "-id"
            )[:STATEMENTS_LISTED],
            "form": form if can_set_budget else None,
            "can_set_budget": can_set_budget,
        },
        status=status_code,
    )
