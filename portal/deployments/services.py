"""Recording deployment requests and moving deployments through their states.

``deployment_record`` checks a request and records it as the next revision of its endpoint;
``deployment_transition`` moves a deployment from one state to another, and an approved one is
rolled out once the transaction commits. Both announce the state reached
(``portal.deployments.notify``). What the policy in force and the approvals make of a
request is ``portal.deployments.workflow``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from chargeback.services.estimates import estimate
from portal.catalog.models import ModelVersion, VersionStatus
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest
from portal.core.outbox import enqueue_on_commit
from portal.deployments.models import Deployment, DeploymentState, Environment, Target
from portal.deployments.notify import notify_deployment_state
from tenants.models import Tenant, User

INSTANCE_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENDPOINT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Which states may follow which; anything else is refused.
TRANSITIONS: dict[str, set[str]] = {
    DeploymentState.REQUESTED: {"pending_approval", "approved", "rejected"},
    DeploymentState.PENDING_APPROVAL: {"approved", "rejected", "cancelled", "pending_approval"},
    DeploymentState.APPROVED: {"deploying", "cancelled"},
    DeploymentState.DEPLOYING: {"live", "failed"},
    DeploymentState.LIVE: {"rolled_back", "retired", "failed", "suspended"},
    # A suspended revision resumes (back to live) or is taken out of service for good.
    DeploymentState.SUSPENDED: {"live", "retired"},
    DeploymentState.FAILED: {"retired"},
    DeploymentState.ROLLED_BACK: {"retired"},
}


def cost_estimate(
    *,
    environment: str,
    target: str,
    instance_type: str,
    replicas: int,
    drift_monitor: bool = True,
    tenant: Tenant | None = None,
) -> dict[str, Any] | None:
    """The hourly and monthly cost of a planned deployment, as the policy context's ``cost``.

    Built from ``chargeback.services.estimates.estimate`` (Decimal there; floats here because CEL
    policies compare numbers), with its provenance. None, which policies see as
    ``cost.known == false``, when no source prices this instance type.
    """
    try:
        found = estimate(
            tenant=tenant,
            environment=environment,
            target=target,
            instance_type=instance_type,
            replicas=replicas,
            drift_monitor=drift_monitor,
        )
    except InvalidRequest:
        return None
    return found.as_policy_cost()


@dataclass(frozen=True)
class DeploymentSpec:
    """What a deployment request asks for: which version to serve, where and how."""

    version: ModelVersion
    environment: str
    instance_type: str
    target: str = Target.LOCAL
    replicas: int = 1
    canary_weight: int | None = None
    drift_monitor: bool = True
    shadow: bool = False
    name: str = ""  # the endpoint; by default ``<model>-<environment>``

    @classmethod
    def of(cls, deployment: Deployment) -> DeploymentSpec:
        """What ``deployment`` was requested with."""
        return cls(
            version=deployment.model_version,
            environment=deployment.environment,
            instance_type=deployment.instance_type,
            target=deployment.target,
            replicas=deployment.replicas,
            canary_weight=deployment.canary_weight,
            drift_monitor=deployment.drift_monitor,
            shadow=deployment.shadow,
            name=deployment.name,
        )


def _validate(spec: DeploymentSpec) -> None:
    if spec.environment not in Environment.values:
        raise InvalidRequest(f"environment must be one of: {', '.join(Environment.values)}.")
    if spec.target not in Target.values:
        raise InvalidRequest(f"target must be one of: {', '.join(Target.values)}.")
    if not INSTANCE_TYPE.match(spec.instance_type or ""):
        raise InvalidRequest("instance_type must be a name such as 'cpu.small' or 'ml.m5.large'.")
    if not 1 <= spec.replicas <= 50:
        raise InvalidRequest("replicas must be from 1 to 50.")
    if spec.canary_weight is not None and not 1 <= spec.canary_weight <= 99:
        raise InvalidRequest("canary_weight must be a percentage from 1 to 99, or left out.")
    if spec.shadow and spec.canary_weight is not None:
        raise InvalidRequest(
            "A shadow revision gets a copy of all traffic; leave canary_weight out for it."
        )
    if spec.version.gone_from_mlflow:
        raise InvalidRequest("This version no longer exists in MLflow; pick another version.")
    if spec.version.status != VersionStatus.READY:
        raise InvalidRequest("This version is not ready in MLflow yet; try again once it is.")
    version_refuse_tampered(spec.version)


def version_refuse_tampered(version: ModelVersion) -> None:
    """Refuse a version whose artifact files changed in MLflow after the portal recorded them."""
    if version.tampered:
        raise InvalidRequest(
            "The artifact files of this version changed in MLflow after the portal recorded "
            "them, so it cannot be deployed; register the model again as a new version."
        )


def deployment_transition(
    *,
    actor: Actor,
    deployment: Deployment,
    to: str,
    reason: str = "",
    extra: dict[str, Any] | None = None,
    action: str = "",
) -> Deployment:
    """Move a deployment to another state, audit it (as ``action``, by default
    ``deployment.<state>``) and announce it as ``deployment.<state>``; runs inside the caller's
    transaction, and the announcement leaves when it commits."""
    if to not in TRANSITIONS.get(deployment.state, set()):
        raise Conflict(
            f"A deployment that is {deployment.get_state_display().lower()} cannot become "
            f"{DeploymentState(to).label.lower()}."
        )
    before = {"state": deployment.state}
    deployment.state, deployment.state_changed_at = to, timezone.now()
    deployment.save(update_fields=["state", "state_changed_at"])
    notify_deployment_state(deployment, before=before["state"], reason=reason)
    if to == DeploymentState.APPROVED:
        # By the task's name: the task module imports the rollout, which moves deployments
        # through here.
        enqueue_on_commit(
            "deployments.rollout", tenant_id=deployment.tenant_id, deployment_id=deployment.pk
        )
    audit_record(
        actor=actor,
        action=action or f"deployment.{to}",
        object_type="deployment",
        object_id=deployment.pk,
        tenant_id=deployment.tenant_id,
        before=before,
        after={"state": to, "reason": reason, **(extra or {})},
    )
    return deployment


def endpoint_default_name(version: ModelVersion, environment: str) -> str:
    return slugify(f"{version.model.name}-{environment}")[:63].strip("-") or "model"


def _next_revision(
    *, tenant: Tenant, name: str, version: ModelVersion, environment: str, target: str
) -> int:
    """The revision number a new request for endpoint ``name`` gets; an endpoint keeps its model,
    environment and target, so its URL always means the same thing."""
    if not ENDPOINT_NAME.match(name):
        raise InvalidRequest(
            "name must be lower-case letters, digits and hyphens (at most 63), "
            "starting and ending with a letter or digit."
        )
    first = (
        Deployment.objects.filter(tenant=tenant, name=name)
        .select_related("model_version__model")
        .order_by("revision")
        .first()
    )
    if first is not None:
        if first.model_version.model_id != version.model_id:
            raise InvalidRequest(
                f"The endpoint '{name}' serves model '{first.model_version.model.name}'; "
                "choose another name for this model."
            )
        if (first.environment, first.target) != (environment, target):
            raise InvalidRequest(
                f"The endpoint '{name}' is a {first.environment} endpoint on {first.target}; "
                "choose another name for another environment or target."
            )
    latest = Deployment.objects.filter(tenant=tenant, name=name).aggregate(n=Max("revision"))
    return (latest["n"] or 0) + 1


def deployment_record(
    *, actor: Actor, tenant: Tenant, spec: DeploymentSpec, user: User | None = None
) -> Deployment:
    """Check a deployment request and record it, the next revision of endpoint ``spec.name``
    (by default ``<model>-<environment>``), inside the caller's transaction."""
    _validate(spec)
    version, environment, target = spec.version, spec.environment, spec.target
    name = spec.name or endpoint_default_name(version, environment)
    revision = _next_revision(
        tenant=tenant, name=name, version=version, environment=environment, target=target
    )
    deployment = Deployment.objects.create(
        tenant=tenant,
        name=name,
        revision=revision,
        shadow=spec.shadow,
        model_version=version,
        environment=environment,
        target=target,
        instance_type=spec.instance_type,
        replicas=spec.replicas,
        canary_weight=spec.canary_weight,
        drift_monitor=spec.drift_monitor,
        requested_by=user,
        requested_by_label=actor.label,
    )
    audit_record(
        actor=actor,
        action="deployment.requested",
        object_type="deployment",
        object_id=deployment.pk,
        tenant_id=tenant.pk,
        after={
            "state": deployment.state,
            "name": name,
            "revision": revision,
            "model": version.model.name,
            "version": version.version,
            "environment": environment,
            "target": target,
            "instance_type": spec.instance_type,
            "replicas": spec.replicas,
        },
    )
    notify_deployment_state(deployment, before=None, reason="")
    return deployment
