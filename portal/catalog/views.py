"""Catalog pages: the list, a model, a version, the sync status, unassigned and conflicting models."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.catalog import selectors, services, tasks
from portal.catalog.filters import CatalogFilter, UnassignedFilter
from portal.catalog.forms import (
    AssignForm,
    ModelMetadataForm,
    assignable_units,
)
from portal.catalog.models import (
    CatalogJob,
    JobStatus,
    ModelVersion,
    RegisteredModel,
    SyncRun,
    SyncStatus,
    UnassignedModel,
)
from portal.catalog.ownership import ownership_conflicts
from portal.core.audit import Actor
from portal.core.errors import PortalError
from portal.core.paging import paginate
from portal.core.queued import following, queued_address, queued_work
from tenants.access import platform_role_of
from tenants.models import PlatformRole
from tenants.routing import TenantRequest, tenant_page

JOBS_SHOWN = 10  # on the sync page; each job is at GET .../catalog-jobs/<id>/
CONFLICTS_SHOWN = 200  # the whole list is in the API (GET /api/v1/catalog/conflicts/)


@tenant_page("read")
def catalog_list(request: TenantRequest) -> HttpResponse:
    filters = CatalogFilter(request.GET or None, queryset=selectors.models_search())
    listing = paginate(request, filters.listed())
    return render(
        request,
        "catalog/list.html",
        {
            "tenant": request.tenant,
            "form": filters.form,
            **listing,
            "last_sync": selectors.sync_last_success(),
            "failed_sync": selectors.sync_failed_since_success(),
            "can_write": "write" in request.capabilities,
        },
    )


def _model_with_versions(name: str) -> RegisteredModel:
    versions = Prefetch("versions", queryset=ModelVersion.objects.order_by("-version"))
    return get_object_or_404(RegisteredModel.objects.prefetch_related(versions), name=name)


@tenant_page("read")
def model_detail(request: TenantRequest, name: str) -> HttpResponse:
    model = _model_with_versions(name)
    can_write = "write" in request.capabilities
    form = ModelMetadataForm(
        request.POST or None, initial={f: getattr(model, f) for f in services.METADATA_FIELDS}
    )
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("Your role in this unit cannot edit the catalog.")
        if form.is_valid():
            services.model_update_metadata(
                actor=Actor.user(request.user), model=model, **form.cleaned_data
            )
            messages.success(request, "Catalog entry saved.")
            return redirect("catalog-model", tenant=request.tenant.slug, name=model.name)
    return render(
        request,
        "catalog/model.html",
        {
            "tenant": request.tenant,
            "model": model,
            "form": form,
            "can_write": can_write,
        },
        status=400 if request.method == "POST" else 200,
    )


@tenant_page("read")
def version_detail(request: TenantRequest, name: str, version: int) -> HttpResponse:
    found = get_object_or_404(
        ModelVersion.objects.select_related("model"), model__name=name, version=version
    )
    return render(request, "catalog/version.html", {"tenant": request.tenant, "version": found})


@tenant_page("read")
def sync_status(request: TenantRequest) -> HttpResponse:
    runs = list(SyncRun.objects.order_by("-started_at")[:30])
    jobs = list(CatalogJob.objects.order_by("-created_at")[:JOBS_SHOWN])
    queued = queued_work(request, started=(run.started_at for run in runs))
    running = following(
        queued,
        running=any(run.status == SyncStatus.RUNNING for run in runs)
        or any(job.status in (JobStatus.QUEUED, JobStatus.RUNNING) for job in jobs),
    )
    return render(
        request,
        "catalog/sync.html",
        {
            "tenant": request.tenant,
            "runs": runs,
            "jobs": jobs,
            "running": running,
            "queued": queued,
            "last_sync": selectors.sync_last_success(),
            "can_write": "write" in request.capabilities,
        },
    )


@require_POST
@tenant_page("write")
def sync_now(request: TenantRequest) -> HttpResponse:
    tasks.sync_tenant.delay_on_commit(tenant_id=request.tenant.pk, trigger="page", deep=True)
    messages.success(request, "A sync is queued; this page shows its progress.")
    return redirect(queued_address(reverse("catalog-sync", kwargs={"tenant": request.tenant.slug})))


def _platform_admin_only(request: HttpRequest) -> None:
    if platform_role_of(request.user) != PlatformRole.PLATFORM_ADMIN:
        raise PermissionDenied("Only platform admins see unassigned models.")


@login_required
def unassigned_list(request: HttpRequest) -> HttpResponse:
    _platform_admin_only(request)
    search = UnassignedFilter(
        request.GET or None, queryset=UnassignedModel.objects.order_by("name")
    )
    return render(
        request,
        "catalog/unassigned.html",
        {
            "conflicts": list(ownership_conflicts()[:CONFLICTS_SHOWN]),
            "search": search.form,
            "units": list(assignable_units()),
            "total": UnassignedModel.objects.count(),
            **paginate(request, search.listed()),
        },
    )


@require_POST
@login_required
def unassigned_assign(request: HttpRequest, name: str) -> HttpResponse:
    _platform_admin_only(request)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the unit that owns the model.")
        return redirect("catalog-unassigned")
    tenant = form.cleaned_data["tenant"]
    try:
        services.model_assign(actor=Actor.user(request.user), name=name, tenant=tenant)
    except PortalError as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request,
            f"'{name}' now belongs to {tenant.name}; a worker brings it into the unit's catalog.",
        )
    return redirect("catalog-unassigned")
