"""The drift page of a deployment: its status, the latest per-column report, drift over time."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from portal.core.paging import paginate
from portal.deployments.models import Deployment
from portal.monitoring.charts import drift_chart
from portal.monitoring.models import Baseline, DriftRun, Monitor
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
