"""Who hears about a deployment's states: the unit's webhooks, and by email its requester and
the unit's owners.

Every state a deployment reaches is the event ``deployment.<state>`` (``deployment.requested`` when
it is recorded), sent through ``tenants.notifications.notify`` from the transaction that changed
it, so it leaves only once that transaction commits. A state added later is announced as well,
under its own name, with no code here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from governance.services.notify import tenant_owner_emails
from portal.deployments.models import Deployment, DeploymentState
from tenants.notifications import notify
from tenants.scoping import tenant_scope

# Webhooks only, no email: reviewers are emailed about a request that waits for them
# (approval.requested), a deploying revision is live or failed within minutes, and a model's
# suspension tells the unit's owners and governance once for all its revisions (model.suspended).
QUIET_STATES = frozenset(
    {DeploymentState.PENDING_APPROVAL, DeploymentState.DEPLOYING, DeploymentState.SUSPENDED}
)


def _state_words(state: str) -> str:
    try:
        return str(DeploymentState(state).label).lower()
    except ValueError:
        return state.replace("_", " ")


def deployment_payload(
    deployment: Deployment, *, before: str | None, reason: str
) -> dict[str, Any]:
    """What a receiver learns of a deployment that reached its current state."""
    version = deployment.model_version
    slug = deployment.tenant.slug
    return {
        "tenant": slug,
        "deployment": deployment.pk,
        "endpoint": deployment.name,
        "revision": deployment.revision,
        "environment": deployment.environment,
        "model": version.model.name,
        "version": version.version,
        "state_before": before,
        "state": deployment.state,
        "reason": reason,
        "url": settings.PORTAL_BASE_URL
        + reverse("deployment-page", kwargs={"tenant": slug, "deployment_id": deployment.pk}),
    }


def notify_deployment_state(deployment: Deployment, *, before: str | None, reason: str) -> None:
    """Announce that ``deployment`` reached its current state (from ``before``, None when new)."""
    with tenant_scope(deployment.tenant_id):
        payload = deployment_payload(deployment, before=before, reason=reason)
        emails: list[str] = []
        if deployment.state not in QUIET_STATES:
            requester = deployment.requested_by
            emails = [requester.email] if requester and requester.email else []
            emails += tenant_owner_emails()
        words = _state_words(deployment.state)
        what = f"{payload['model']} v{payload['version']} to {payload['environment']}"
        notify(
            tenant_id=deployment.tenant_id,
            event=f"deployment.{deployment.state}",
            payload=payload,
            emails=emails,
            subject=f"{what} ({deployment.name} r{deployment.revision}): {words}",
            body=(
                f"{payload['model']} version {payload['version']} on {deployment.name} (revision "
                f"{deployment.revision}, {payload['environment']}) is {words}.\n"
                + (f"Why: {reason}\n" if reason else "")
                + f"\n{payload['url']}\n"
            ),
        )
