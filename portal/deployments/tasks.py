"""Deployment tasks: roll an approved revision out, follow it until live, follow a resumed one
until its server answers again, retire warm revisions, and the daily look at open approvals and
certifications.

Each task takes the tenant's id with its own ids and runs inside that tenant's scope.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from governance.services.approvals import certifications_check
from portal.deployments import rollout
from portal.deployments.models import DeploymentState
from portal.deployments.targets import TargetState
from portal.deployments.workflow import approvals_expire
from tenants.models import Tenant
from tenants.scoping import tenant_scope

POLL_SECONDS = 2


@shared_task(name="deployments.rollout", acks_late=True)
def deployment_rollout(*, tenant_id: int, deployment_id: int) -> str:
    """Ask the target to serve an approved revision, then follow it until it is live or failed."""
    state = rollout.rollout_start(tenant_id=tenant_id, deployment_id=deployment_id)
    if state == DeploymentState.DEPLOYING:
        deployment_rollout_check.apply_async(
            kwargs={"tenant_id": tenant_id, "deployment_id": deployment_id},
            countdown=POLL_SECONDS,
        )
    return state


@shared_task(name="deployments.rollout_check", acks_late=True)
def deployment_rollout_check(*, tenant_id: int, deployment_id: int) -> str:
    """One look at a deploying revision; looks again until the target has decided or time is up."""
    state = rollout.rollout_advance(tenant_id=tenant_id, deployment_id=deployment_id)
    if (
        state == DeploymentState.DEPLOYING
        and not deployment_rollout_check.app.conf.task_always_eager
    ):
        deployment_rollout_check.apply_async(
            kwargs={"tenant_id": tenant_id, "deployment_id": deployment_id},
            countdown=POLL_SECONDS,
        )
    return state


@shared_task(name="deployments.serving_check", acks_late=True)
def deployment_serving_check(*, tenant_id: int, deployment_id: int, looks: int = 0) -> str:
    """One look at a resumed revision on its target; looks again while it is starting, for at
    most ``SERVING_START_TIMEOUT_SECONDS``."""
    state = rollout.revision_serving_refresh(tenant_id=tenant_id, deployment_id=deployment_id)
    if (
        state == TargetState.PENDING
        and looks * POLL_SECONDS < settings.SERVING_START_TIMEOUT_SECONDS
        and not deployment_serving_check.app.conf.task_always_eager
    ):
        deployment_serving_check.apply_async(
            kwargs={"tenant_id": tenant_id, "deployment_id": deployment_id, "looks": looks + 1},
            countdown=POLL_SECONDS,
        )
    return state


@shared_task(name="deployments.retire_warm_revisions", acks_late=True)
def retire_warm_revisions() -> int:
    """Retire replaced revisions whose rollback grace period is over."""
    return rollout.retire_warm_revisions()


# Registered under governance's name, which beat schedules know it by.
@shared_task(name="governance.daily_checks", acks_late=True)
def daily_checks() -> dict[str, int]:
    """Expire stale approval requests and mark certifications due or overdue, tenant by tenant."""
    expired = changed = 0
    for tenant in Tenant.objects.filter(active=True):
        with tenant_scope(tenant):
            expired += approvals_expire()
            changed += len(certifications_check())
    return {"approvals_expired": expired, "certifications_changed": changed}
