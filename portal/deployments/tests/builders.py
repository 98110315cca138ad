"""Helpers the deployment tests share: a deployment read back through its unit, one made live
without a model server, a rollout whose model server is pretended ready, and waiting for one to
go live on the real serving runtime."""

from __future__ import annotations

from portal.deployments import rollout
from portal.deployments.models import Deployment
from portal.deployments.tests.serving import wait_for
from tenants.scoping import tenant_scope


def reload(tenant, deployment_id: int) -> Deployment:
    with tenant_scope(tenant):
        return Deployment.objects.get(pk=deployment_id)


def pretend_ready(tenant, deployment_id: int) -> Deployment:
    """Roll out, then write what the serving runtime writes once a model server answers /ping."""
    rollout.rollout_start(tenant_id=tenant.pk, deployment_id=deployment_id)
    return serving_ready(tenant, deployment_id)


def serving_ready(tenant, deployment_id: int) -> Deployment:
    """Write what the serving runtime writes once a model server answers /ping, then let the
    rollout look."""
    with tenant_scope(tenant):
        deployment = Deployment.objects.get(pk=deployment_id)
        deployment.serving = {**deployment.serving, "state": "ready", "url": "http://127.0.0.1:9"}
        deployment.save(update_fields=["serving"])
    rollout.rollout_advance(tenant_id=tenant.pk, deployment_id=deployment_id)
    return reload(tenant, deployment_id)


def state_of(company, deployment_id: int) -> Deployment:
    with tenant_scope(company.a):
        return Deployment.objects.get(pk=deployment_id)


def wait_live(company, deployment_id: int, timeout: float = 120) -> Deployment:
    def live():
        deployment = state_of(company, deployment_id)
        assert deployment.state not in ("failed", "cancelled"), deployment.serving
        return deployment if deployment.state == "live" else None

    return wait_for(live, timeout=timeout, what=f"deployment {deployment_id} to go live")
