"""Incidents: opened by people or by the system, with a timeline, resolved with a resolution."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.models import Incident, IncidentEntry, IncidentSeverity, IncidentStatus
from portal.catalog.models import RegisteredModel
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest

NEXT_STATUS = {
    IncidentStatus.OPEN: {IncidentStatus.MITIGATED, IncidentStatus.RESOLVED},
    IncidentStatus.MITIGATED: {IncidentStatus.OPEN, IncidentStatus.RESOLVED},
    IncidentStatus.RESOLVED: {IncidentStatus.OPEN},
}


def _audit(actor: Actor, incident: Incident, action: str, before: dict | None, after: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="incident",
        object_id=incident.pk,
        tenant_id=incident.tenant_id,
        before=before,
        after=after,
    )


@transaction.atomic
def incident_open(
    *,
    actor: Actor,
    tenant_id: int,
    title: str,
    severity: str,
    description: str = "",
    source: str = "person",
    model: RegisteredModel | None = None,
    deployment_id: int | None = None,
) -> Incident:
    """Open an incident; ``source`` names the system part that opened it (drift, rollout).

    An incident of a deployment is also its model's, unless ``model`` says which.
    """
    if severity not in IncidentSeverity.values:
        raise InvalidRequest(f"severity must be one of: {', '.join(IncidentSeverity.values)}.")
    if not title.strip():
        raise InvalidRequest("An incident needs a title that says what is wrong.")
    if deployment_id is not None and model is None:
        model = RegisteredModel.objects.filter(versions__deployments=deployment_id).first()
    incident = Incident.objects.create(
        tenant_id=tenant_id,
        title=title.strip()[:200],
        description=description,
        severity=severity,
        source=source,
        opened_by_label=actor.label,
        model=model,
        deployment_id=deployment_id,
    )
    IncidentEntry.objects.create(
        tenant_id=tenant_id,
        incident=incident,
        kind="status",
        text=f"Opened ({incident.get_severity_display()}).",
        author_label=actor.label,
    )
    _audit(
        actor,
        incident,
        "incident.opened",
        None,
        {
            "status": incident.status,
            "severity": severity,
            "source": source,
            "model": model.pk if model else None,
            "deployment": deployment_id,
        },
    )
    return incident


@transaction.atomic
def incident_note(*, actor: Actor, incident: Incident, text: str) -> IncidentEntry:
    """Add a line to the timeline (notes are not state changes, so they are not audited)."""
    if not text.strip():
        raise InvalidRequest("A timeline entry needs some text.")
    return IncidentEntry.objects.create(
        tenant_id=incident.tenant_id,
        incident=incident,
        kind="note",
        text=text.strip(),
        author_label=actor.label,
    )


@transaction.atomic
def incident_change(
    *,
    actor: Actor,
    incident: Incident,
    status: str | None = None,
    severity: str | None = None,
    resolution: str = "",
) -> Incident:
    """Change an incident's status or severity; resolving needs a resolution and records the time."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if severity and severity != incident.severity:
        if severity not in IncidentSeverity.values:
            raise InvalidRequest(f"severity must be one of: {', '.join(IncidentSeverity.values)}.")
        before["severity"], after["severity"] = incident.severity, severity
        incident.severity = severity
    if status and status != incident.status:
        if status not in NEXT_STATUS.get(IncidentStatus(incident.status), set()):
            raise Conflict(f"An incident that is {incident.status} cannot become {status}.")
        if status == IncidentStatus.RESOLVED and not (resolution or "").strip():
            raise InvalidRequest("Say how the incident was resolved (resolution).")
        before["status"], after["status"] = incident.status, status
        incident.status = status
        if status == IncidentStatus.RESOLVED:
            incident.resolved_at, incident.resolution = timezone.now(), resolution.strip()
            after["resolution"] = incident.resolution
            after["time_to_resolve_seconds"] = int(
                (incident.resolved_at - incident.opened_at).total_seconds()
            )
        elif incident.resolved_at:
            incident.resolved_at, incident.resolution = None, ""
    if not after:
        return incident
    incident.save()
    IncidentEntry.objects.create(
        tenant_id=incident.tenant_id,
        incident=incident,
        kind="status",
        text="; ".join(
            f"{k.replace('_', ' ')}: {before.get(k)} → {v}"
            for k, v in after.items()
            if k in ("status", "severity")
        )
        + (f". Resolution: {incident.resolution}" if "resolution" in after else ""),
        author_label=actor.label,
    )
    _audit(
        actor,
        incident,
        "incident.resolved" if after.get("status") == "resolved" else "incident.updated",
        before,
        after,
    )
    return incident
