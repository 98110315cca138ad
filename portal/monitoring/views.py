"""The drift page of a deployment: its status, the latest per-column report, drift over time;
and its decision-log page: how long the log is kept, and a download over a range."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from portal.core.audit import Actor
from portal.core.downloads import streamed_download
from portal.core.errors import InvalidRequest
from portal.core.paging import paginate
from portal.deployments.models import Deployment
from portal.monitoring import services
from portal.monitoring.charts import drift_chart
from portal.monitoring.decision_logs import (
    EXPORT_FORMATS,
    decision_log_format,
    decision_log_range,
)
from portal.monitoring.models import Baseline, DriftRun, Monitor
from portal.monitoring.retention import retention_days
from portal.monitoring.selectors import drift_history, drift_status_by_deployment
from tenants.routing import TenantRequest, tenant_page

PAGE_SIZE = 20


@tenant_page("read")
def deployment_drift(request: TenantRequest, deployment_id: int) -> HttpResponse:
    deployment = get_object_or_404(
        Deployment.objects.select_related("model_version__model"), pk=deployment_id
    )
    runs = DriftRun.objects.filter(deployment=deployment).order_by("-created_at", "-id")
    latest = runs.filter(status__in=["succeeded", "failed"]).first()
    in_progress = runs.filter(status__in=["queued", "running"]).first()
    return render(
        request,
        "monitoring/deployment_drift.html",
        {
            "tenant": request.tenant,
            "deployment": deployment,
            "drift": drift_status_by_deployment([deployment.pk])[deployment.pk],
            "latest": latest,
            "in_progress": in_progress,
            "chart": drift_chart(drift_history(deployment.pk)),
            "monitor": Monitor.objects.filter(endpoint=deployment.name).first(),
            "baseline": Baseline.objects.filter(model_version=deployment.model_version).first(),
            **paginate(request, runs, per_page=PAGE_SIZE),
        },
    )


@tenant_page("read")
def deployment_decision_log(request: TenantRequest, deployment_id: int) -> HttpResponseBase:
    deployment = get_object_or_404(
        Deployment.objects.select_related("model_version__model"), pk=deployment_id
    )
    today = timezone.now().date()
    context = {
        "tenant": request.tenant,
        "deployment": deployment,
        "retention_days": retention_days(deployment.model_version.model.risk_tier),
        "formats": EXPORT_FORMATS,
        "chosen": {
            "from": request.GET.get("from", (today - timedelta(days=7)).isoformat()),
            "to": request.GET.get("to", today.isoformat()),
            "format": request.GET.get("format", "csv"),
        },
    }
    if not request.GET:
        return render(request, "monitoring/decision_log.html", context)
    try:
        start, end = decision_log_range(request.GET)
        fmt = decision_log_format(request.GET.get("format"))
    except InvalidRequest as error:
        context["error"] = error.detail
        return render(request, "monitoring/decision_log.html", context, status=400)
    download = services.decision_log_export(
        actor=Actor.from_request(request), deployment=deployment, start=start, end=end, fmt=fmt
    )
    return streamed_download(
        download.chunks(),
        filename=download.filename,
        content_type=download.content_type,
        headers=download.headers,
    )
