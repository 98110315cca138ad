"""Registry sync tasks (a beat fan-out, one task per tenant, the unassigned scan, one model) and
the queued registrations and assignments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings

from portal.catalog import services, sync
from portal.catalog.mlflow_adapter import MlflowUnavailable
from tenants.models import Tenant
from tenants.scoping import tenant_scope

RETRY = {
    "autoretry_for": (MlflowUnavailable,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 5,
}


@shared_task(name="catalog.sync_all_tenants", acks_late=True)
def sync_all_tenants() -> int:
    """Fan out: one sync per active tenant, and the scan for unassigned models."""
    tenant_ids = list(Tenant.objects.filter(active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        sync_tenant.delay(tenant_id=tenant_id, trigger="schedule")
    scan_unassigned.delay()
    return len(tenant_ids)


@shared_task(name="catalog.sync_tenant", acks_late=True, **RETRY)
def sync_tenant(
    *, tenant_id: int, trigger: str = "schedule", deep: bool | None = None
) -> int | None:
    tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
    if tenant is None:
        return None
    with tenant_scope(tenant):
        if deep is None:
            deep = sync.deep_sync_due(
                tenant=tenant, every=timedelta(seconds=settings.CATALOG_DEEP_SYNC_SECONDS)
            )
        run = sync.registry_sync(tenant=tenant, trigger=trigger, deep=deep)
        return run.pk if run else None


@shared_task(name="catalog.sync_model", acks_late=True, **RETRY)
def sync_model(*, name: str, trigger: str = "webhook") -> int:
    return len(sync.tenant_sync_model(name=name, trigger=trigger))


@shared_task(name="catalog.scan_unassigned", acks_late=True, **RETRY)
def scan_unassigned() -> int:
    return sync.unassigned_scan()


@shared_task(name="catalog.run_job", bind=True, acks_late=True, max_retries=5, time_limit=15 * 60)
def run_job(self: Any, *, tenant_id: int, job_id: int) -> str:
    """A registration or an assignment; MLflow being away is retried with backoff, then the job
    fails with the reason, where the person who asked sees it."""
    with tenant_scope(tenant_id):
        try:
            job = services.catalog_job_run(job_id=job_id)
        except MlflowUnavailable as error:
            if self.request.retries >= self.max_retries:
                services.catalog_job_fail(job_id=job_id, error=error.detail)
                return "failed"
            services.catalog_job_wait(job_id=job_id, reason=error.detail)
            raise self.retry(exc=error, countdown=min(300, 5 * 2**self.request.retries)) from error
    return job.status if job else "gone"
