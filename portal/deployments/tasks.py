"""Deployment tasks: roll an approved revision out, follow it until live, retire warm revisions."""

from __future__ import annotations

from celery import shared_task

from portal.deployments import rollout
from portal.deployments.models import DeploymentState

POLL_SECONDS = 2


@shared_task(name="deployments.rollout", acks_late=True)
def deployment_rollout(deployment_id: int) -> str:
    """Ask the target to serve an approved revision, then follow it until it is live or failed."""
    state = rollout.rollout_start(deployment_id)
    if state == DeploymentState.DEPLOYING:
        deployment_rollout_check.apply_async((deployment_id,), countdown=POLL_SECONDS)
    return state


@shared_task(name="deployments.rollout_check", acks_late=True)
def deployment_rollout_check(deployment_id: int) -> str:
    """One look at a deploying revision; looks again until the target has decided or time is up."""
    state = rollout.rollout_advance(deployment_id)
    if (
        state == DeploymentState.DEPLOYING
        and not deployment_rollout_check.app.conf.task_always_eager
    ):
        deployment_rollout_check.apply_async((deployment_id,), countdown=POLL_SECONDS)
    return state


@shared_task(name="deployments.retire_warm_revisions", acks_late=True)
def retire_warm_revisions() -> int:
    """Retire replaced revisions whose rollback grace period is over."""
    return rollout.retire_warm_revisions()
