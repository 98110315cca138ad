"""A version whose artifact files changed in MLflow after the portal recorded them.

MLflow's artifacts are claims the portal checks: the registry sync records a manifest of every
file's SHA-256 when it first sees a version and checks it again on deep syncs for versions that
are approved or serving. When the bytes differ, ``version_tampered`` marks the version, voids its
approvals, opens an incident for the unit (which governance sees too) and audits it, all in one
transaction. A tampered version is never deployed or approved again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.audit import Actor, audit_record
from governance.models import Incident
from governance.services.approvals import approvals_void_for_version
from governance.services.incidents import incident_open
from portal.catalog.models import ModelVersion

VOID_REASON = "the version's artifact files changed in MLflow after the portal recorded them"


@transaction.atomic
def version_tampered(
    *, actor: Actor, version: ModelVersion, found_digest: str, changes: list[str]
) -> Incident | None:
    """Mark ``version`` tampered (``changes`` say which files differ); None if it already was."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.tampered_at is not None:
        return None
    now = timezone.now()
    report = "; ".join(changes) or "the files differ"
    version.tampered_at, version.tamper_report, version.artifacts_checked_at = now, report, now
    version.save(update_fields=["tampered_at", "tamper_report", "artifacts_checked_at"])
    audit_record(
        actor=actor,
        action="version.artifact_tampered",
        object_type="model_version",
        object_id=version.pk,
        tenant_id=version.tenant_id,
        before={"artifact_digest": version.artifact_digest, "tampered": False},
        after={
            "artifact_digest_found": found_digest,
            "tampered": True,
            "changes": changes,
        },
    )
    voided = approvals_void_for_version(actor=actor, version=version, reason=VOID_REASON)
    serving = list(
        version.deployments.filter(state__in=["deploying", "live"]).values_list("name", "revision")
    )
    return incident_open(
        actor=actor,
        tenant_id=version.tenant_id,
        title=(
            f"The artifact files of {version.model.name} v{version.version} changed in MLflow "
            "after the portal recorded them"
        ),
        severity="sev1" if serving else "sev2",
        description=(
            f"What changed: {report}. The portal recorded digest {version.artifact_digest}; "
            f"MLflow now serves files with digest {found_digest or 'none'}. "
            f"{len(voided)} approval(s) were voided; the version cannot be deployed or approved "
            "again. "
            + (
                "Serving revisions keep the copy the portal verified when they started: "
                + ", ".join(f"{name} r{revision}" for name, revision in serving)
                + ". "
                if serving
                else ""
            )
            + "Find out who wrote to the run's artifacts, then register the model again as a new "
            "version."
        ),
        source="artifact",
        model=version.model,
    )
