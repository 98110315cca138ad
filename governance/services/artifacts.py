"""A version whose artifact files changed in MLflow after the portal recorded them.

MLflow's artifacts are claims the portal checks: the registry sync records a manifest of every
file's SHA-256 when it first sees a version and checks it again on deep syncs for versions that
are approved or serving. When the bytes differ, ``version_tampered`` marks the version, voids its
approvals, opens an incident for the unit (which governance sees too) and audits it, all in one
transaction. A tampered version is never deployed or approved again.

Versions recorded before content manifests carry a digest of their file listing and ``MLmodel``
only; ``version_manifest_recorded`` gives such a version its manifest (once its files still give
that digest) and moves its approvals to the new digest, in one transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.audit import Actor, audit_record
from governance.models import ApprovalRequest, Incident
from governance.services.approvals import TAMPERED, approvals_void_for_version
from governance.services.incidents import incident_open
from portal.catalog.models import ModelVersion


@transaction.atomic
def version_tampered(
    *, actor: Actor, version: ModelVersion, found_digest: str, changes: list[str]
) -> Incident | None:
    """Mark ``version`` tampered (``changes`` say which files differ); None if it already was."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.tampered:
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
    voided = approvals_void_for_version(actor=actor, version=version, reason=TAMPERED)
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


@transaction.atomic
def version_manifest_recorded(
    *, actor: Actor, version: ModelVersion, manifest: dict, digest: str
) -> None:
    """Record the manifest of a version first recorded with a listing digest, and bind its
    approvals to the manifest's digest (the caller checked that the files give the old one)."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.artifact_manifest or version.tampered:
        return
    before = version.artifact_digest
    approvals = ApprovalRequest.objects.filter(model_version=version, artifact_digest=before)
    rebound = sorted(approvals.values_list("pk", flat=True))
    approvals.update(artifact_digest=digest)
    version.artifact_manifest, version.artifact_digest = manifest, digest
    version.artifacts_checked_at = timezone.now()
    version.save(update_fields=["artifact_manifest", "artifact_digest", "artifacts_checked_at"])
    audit_record(
        actor=actor,
        action="version.manifest_recorded",
        object_type="model_version",
        object_id=version.pk,
        tenant_id=version.tenant_id,
        before={"artifact_digest": before},
        after={"artifact_digest": digest, "files": len(manifest), "approvals": rebound},
    )
