"""Insights pages: a unit's maturity checklist, its ROI estimate, and KPIs (a unit's, and the
platform's for governance leads and platform admins).

Saving is for the unit's owners: anyone else sees the same page without a form to save.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portal.core.audit import Actor
from portal.core.downloads import content_disposition, csv_bytes
from portal.core.errors import PortalError
from portal.insights import maturity, roi
from portal.insights.charts import level_chart, month_bars
from portal.insights.filters import inventory_filtered, inventory_table
from portal.insights.forms import KpiFilterForm, MaturityForm, RoiInputsForm
from portal.insights.inventory import (
    INVENTORY_DENIED,
    INVENTORY_READERS,
    export_header,
    export_row,
    inventory_all_rows,
)
from portal.insights.kpis import KPI_READERS, KpiReport, MonthKpi, kpi_report
from portal.insights.questions import BANDS
from tenants.models import Tenant
from tenants.routing import TenantRequest, platform_page, tenant_page

OWNERS = "manage"


def _rows(checklist: maturity.Checklist, form: MaturityForm) -> list[tuple[str, list]]:
    return [
        (label, [(item, form[item.id] if item.id in form.fields else None) for item in items])
        for label, items in checklist.groups()
    ]


@tenant_page("read")
def maturity_page(request: TenantRequest) -> HttpResponse:
    checklist = maturity.maturity_checklist(request.tenant)
    can_save = OWNERS in request.capabilities
    form = MaturityForm(checklist=checklist)
    status = 200
    if request.method == "POST":
        if not can_save:
            raise PermissionDenied("Only the unit's owners answer the maturity checklist.")
        form = MaturityForm(request.POST, checklist=checklist)
        if form.is_valid():
            try:
                saved = maturity.maturity_assess(
                    actor=Actor.user(request.user),
                    tenant=request.tenant,
                    user=request.user,
                    answers=form.answers(),
                )
            except PortalError as error:
                form.add_error(None, error.detail)
            else:
                messages.success(
                    request,
                    f"Assessment saved: {saved.yes_count} of 16 yes, {BANDS[saved.level].label}.",
                )
                return redirect("tenant-maturity", tenant=request.tenant.slug)
        status = 400
    return render(
        request,
        "insights/maturity.html",
        {
            "tenant": request.tenant,
            "checklist": checklist,
            "groups": _rows(checklist, form),
            "form": form,
            "can_save": can_save,
            "bands": BANDS,
            "latest_band": BANDS[checklist.latest.level] if checklist.latest else None,
            "chart": level_chart(maturity.assessment_history()),
            "subtab": "maturity",
        },
        status=status,
    )


@tenant_page("read")
def roi_page(request: TenantRequest) -> HttpResponse:
    can_save = OWNERS in request.capabilities
    status = 200
    form = RoiInputsForm(instance=roi.roi_inputs_of(request.tenant))
    if request.method == "POST":
        if not can_save:
            raise PermissionDenied("Only the unit's owners change the ROI inputs.")
        form = RoiInputsForm(request.POST, instance=roi.roi_inputs_of(request.tenant))
        if form.is_valid():
            try:
                roi.roi_inputs_save(
                    actor=Actor.user(request.user),
                    tenant=request.tenant,
                    values=form.cleaned_data,
                )
            except PortalError as error:
                form.add_error(None, error.detail)
            else:
                messages.success(request, "ROI inputs saved.")
                return redirect("tenant-roi", tenant=request.tenant.slug)
        status = 400
    estimate, inputs, measurements = roi.tenant_roi(request.tenant)
    return render(
        request,
        "insights/roi.html",
        {
            "tenant": request.tenant,
            "estimate": estimate,
            "figures": estimate.figures,
            "measured": estimate.measured,
            "measurements": measurements,
            "currency": inputs.currency,
            "formula": roi.roi_formula(estimate),
            "total": f"{roi.whole(estimate.total_benefits):,}",
            "roi_percent": (
                roi.one_place(estimate.roi_percent) if estimate.roi_percent is not None else None
            ),
            "form": form,
            "can_save": can_save,
            "subtab": "roi",
        },
        status=status,
    )


def _charts(months: list[MonthKpi]) -> list:
    def series(attribute: str) -> list[tuple[str, Any]]:
        return [(m.label, getattr(m, attribute)) for m in months]

    return [
        month_bars("Deployment frequency", "revisions live", series("deployments")),
        month_bars("Lead time, request to live", "hours (average)", series("lead_time_hours")),
        month_bars("Change failure rate", "% of rollouts", series("change_failure_rate")),
        month_bars("Time to resolve incidents", "hours (average)", series("time_to_resolve_hours")),
        month_bars("Models", "registered at month end", series("models")),
    ]


def _window(months: list[MonthKpi]) -> MonthKpi:
    total = MonthKpi(months[0].month)
    for month in months:
        total.add(month)
    total.models = months[-1].models
    return total


def _filters(request: HttpRequest) -> tuple[KpiFilterForm, dict[str, Any]]:
    form = KpiFilterForm(request.GET or None)
    criteria = form.cleaned_data if form.is_valid() else {}
    environment = criteria.get("environment") or "production"
    return form, {
        "months": criteria.get("months") or 12,
        "environment": "" if environment == "all" else environment,
    }


def _kpi_context(report: KpiReport, form: KpiFilterForm) -> dict[str, Any]:
    return {
        "report": report,
        "form": form,
        "charts": _charts(report.overall),
        "window": _window(report.overall),
        "tenant_rows": [(row.tenant, _window(row.months)) for row in report.tenants],
    }


@tenant_page("read")
def tenant_kpis_page(request: TenantRequest) -> HttpResponse:
    form, criteria = _filters(request)
    report = kpi_report(tenants=[request.tenant], across=False, **criteria)
    context = _kpi_context(report, form)
    context.update({"tenant": request.tenant, "subtab": "kpis", "tenant_rows": []})
    return render(request, "insights/kpis.html", context)


@login_required
@platform_page(KPI_READERS, "Platform KPIs are open to governance leads and platform admins.")
def platform_kpis_page(request: HttpRequest) -> HttpResponse:
    form, criteria = _filters(request)
    report = kpi_report(tenants=list(Tenant.objects.order_by("name")), across=True, **criteria)
    return render(request, "insights/kpis.html", _kpi_context(report, form))


@login_required
@platform_page(INVENTORY_READERS, INVENTORY_DENIED)
def inventory_page(request: HttpRequest) -> HttpResponse:
    """Every registered model of every unit, filtered, sorted and paged."""
    table = inventory_table(request, request.GET)
    return render(request, "insights/inventory.html", {"table": table})


@login_required
@platform_page(INVENTORY_READERS, INVENTORY_DENIED)
def inventory_export(request: HttpRequest) -> HttpResponse:
    """The filtered inventory, every row of it, as CSV."""
    filters = inventory_filtered(request.user, request.GET)
    rows = (export_row(row) for row in inventory_all_rows(filters.listed()))
    return HttpResponse(
        csv_bytes(export_header(), rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition("inventory.csv")},
    )
