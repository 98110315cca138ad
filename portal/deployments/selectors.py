"""Reads of deployments: what the pages and the API list, and the approval a rollout needs."""

from __future__ import annotations

from django.db.models import QuerySet

from governance.models import ApprovalRequest, ApprovalState
from portal.deployments.models import Deployment, DeploymentState, Suspension, Target

# What a list of deployments shows of each one's model version and model. The rest of those
# rows (metrics, params, signature, datasets, MLflow tags, descriptions) is JSON and text that a
# list never reads and would decode for every row.
VERSION_SHOWN = (
    "model_version__id",
    "model_version__tenant_id",
    "model_version__version",
    "model_version__artifact_digest",
    "model_version__model__id",
    "model_version__model__tenant_id",
    "model_version__model__name",
    "model_version__model__risk_tier",
)
DEPLOYMENT_FIELDS = tuple(field.name for field in Deployment._meta.concrete_fields)


def deployments_listed() -> QuerySet[Deployment]:
    """The tenant's deployments, each with the name, version, digest and risk tier of its model
    version (anything else of the version is read on demand, one query per row: use the full
    ``select_related`` where a page shows more of it)."""
    return Deployment.objects.select_related("model_version__model").only(
        *DEPLOYMENT_FIELDS, *VERSION_SHOWN
    )


def local_model_servers() -> QuerySet[Deployment]:
    """Every unit's local revisions that the serving runtime runs or starts, for platform
    admins: where each server listens, its pid and its sandbox are on their ``serving``."""
    return (
        Deployment.objects.dangerously_across_tenants()
        .filter(target=Target.LOCAL, state__in=[DeploymentState.DEPLOYING, DeploymentState.LIVE])
        .select_related("tenant", "model_version__model")
        .defer("model_version__artifact_manifest")
        .order_by("tenant__slug", "name", "-revision")
    )


def approval_in_force(deployment: Deployment) -> ApprovalRequest | None:
    """The approved approval that still covers the deployment's exact version and artifact."""
    version = deployment.model_version
    if version.tampered:
        return None
    return (
        ApprovalRequest.objects.filter(
            deployment=deployment,
            state=ApprovalState.APPROVED,
            model_version=version,
            artifact_digest=version.artifact_digest,
        )
        .order_by("-closed_at")
        .first()
    )


def suspension_of(deployment: Deployment) -> Suspension | None:
    """Why ``deployment`` is suspended (its open suspension), or None when it is not."""
    if deployment.state != DeploymentState.SUSPENDED:
        return None
    return deployment.suspensions.filter(ended_at__isnull=True).first()
