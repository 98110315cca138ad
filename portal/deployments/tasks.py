"""Deployment tasks: roll an approved revision out, follow it until live, retire warm revisions.

A rollout task takes the tenant's id with the deployment's and runs inside that tenant's scope.
"""

from __future__ import annotations

from celery import shared_task

from portal.deployments import rollout
from portal.deployments.models import DeploymentState

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


@shared_task(name="deployments.retire_warm_revisions", acks_late=True)
def retire_warm_revisions() -> int:
    """Retire replaced revisions whose rollback grace period is over."""
    return rollout.retire_warm_revisions()
