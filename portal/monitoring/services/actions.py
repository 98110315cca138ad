"""What a drifting run sets off, once per run: an alert, an incident, a signed retraining
webhook, and for a high-risk model a request to review the deployment again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.services.incidents import incident_open
from portal.catalog.models import RiskTier
from portal.core.audit import Actor
from portal.deployments.models import Deployment
from portal.deployments.workflow import deployment_review_request
from portal.monitoring.models import ActOn, DriftLevel, DriftRun, Monitor, RunStatus
from tenants.notifications import notify

MONITOR_ACTOR = Actor.system("drift monitor")
DRIFT_EVENT = "monitoring.drift_detected"
RETRAIN_EVENT = "monitoring.retraining_requested"
REVIEW_EVENT = "monitoring.review_requested"


def _acts(monitor: Monitor, run: DriftRun) -> bool:
    if run.drift_status == DriftLevel.DRIFT:
        return True
    return monitor.act_on == ActOn.WARNING and run.drift_status == DriftLevel.WARNING


def drift_payload(run: DriftRun, deployment: Deployment) -> dict[str, Any]:
    version = deployment.model_version
    return {
        "run": run.pk,
        "model": version.model.name,
        "version": version.version,
        "deployment": deployment.pk,
        "endpoint": deployment.name,
        "revision": deployment.revision,
        "status": run.drift_status,
        "window": {
            "kind": run.window,
            "start": run.window_start.isoformat() if run.window_start else None,
            "end": run.window_end.isoformat() if run.window_end else None,
            "rows": run.current_rows,
        },
        "share_drifted": run.share_drifted,
        "drifted_columns": run.drifted_columns,
        "report": f"{settings.PORTAL_BASE_URL}/t/{deployment.tenant.slug}/deployments/"
        f"{deployment.pk}/drift/",
    }


@transaction.atomic
def drift_actions_fire(*, run_id: int) -> dict[str, Any]:
    """Fire the monitor's actions for a finished run, once: the run row is locked and marked."""
    run = DriftRun.objects.select_for_update(of=("self",)).select_related("monitor").get(pk=run_id)
    monitor = run.monitor
    if run.actions_done_at is not None or monitor is None or run.status != RunStatus.SUCCEEDED:
        return run.actions
    actions: dict[str, Any] = {}
    if _acts(monitor, run):
        deployment = Deployment.objects.select_related("model_version__model", "tenant").get(
            pk=run.deployment_id
        )
        payload = drift_payload(run, deployment)
        name = f"{deployment.name} r{deployment.revision}"
        if monitor.alert:
            deliveries = notify(
                tenant_id=run.tenant_id,
                event=DRIFT_EVENT,
                payload=payload,
                emails=monitor.alert_emails,
                subject=f"Drift on {name}: {', '.join(run.drifted_columns) or 'no column'}",
            )
            actions["alert"] = {"webhooks": len(deliveries), "emails": len(monitor.alert_emails)}
        if monitor.open_incident:
            incident = incident_open(
                actor=MONITOR_ACTOR,
                tenant_id=run.tenant_id,
                title=f"Drift on {name}",
                severity="sev3",
                description=_incident_text(run),
                source="drift",
                deployment_id=deployment.pk,
            )
            actions["incident"] = incident.pk
        if monitor.retrain_webhook:
            deliveries = notify(tenant_id=run.tenant_id, event=RETRAIN_EVENT, payload=payload)
            actions["retrain"] = {"webhooks": len(deliveries)}
        if monitor.review_high_risk and deployment.model_version.model.risk_tier == RiskTier.HIGH:
            actions["review"] = _request_review(run, deployment, payload)
    run.actions, run.actions_done_at = actions, timezone.now()
    run.save(update_fields=["actions", "actions_done_at"])
    return actions


def _incident_text(run: DriftRun) -> str:
    lines = [
        f"Drift status {run.drift_status}: {len(run.drifted_columns)} drifted column(s) "
        f"({run.share_drifted:.0%}) over {run.current_rows} rows.",
    ]
    for column in run.columns:
        if column.get("drifted"):
            lines.append(
                f"- {column['name']}: {column.get('method_label')} = "
                f"{column.get('statistic'):.4g} (threshold {column.get('threshold')})"
            )
    return "\n".join(lines)


def _request_review(run: DriftRun, deployment: Deployment, payload: dict[str, Any]) -> dict:
    """A high-risk model drifted: put its live deployment back under review (governance leads
    decide while it keeps serving) and open an incident."""
    review = None
    if deployment.state == "live":
        review = deployment_review_request(
            actor=MONITOR_ACTOR,
            deployment=deployment,
            reason=(
                f"The traffic drifted (drift run {run.pk}: "
                f"{', '.join(run.drifted_columns) or 'the dataset'}); a high-risk model is "
                "reviewed again."
            ),
        )
    incident = incident_open(
        actor=MONITOR_ACTOR,
        tenant_id=deployment.tenant_id,
        title=f"High-risk model drifted: review {deployment.name} r{deployment.revision}",
        severity="sev2",
        description=_incident_text(run)
        + "\n\nThe model is high risk: governance should review this deployment again.",
        source="drift",
        deployment_id=deployment.pk,
    )
    notify(tenant_id=deployment.tenant_id, event=REVIEW_EVENT, payload=payload)
    return {"incident": incident.pk, "review": review.pk if review else None, "audited": True}
