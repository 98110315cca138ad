"""The artifact manifest of a version, which approvals are bound to.

MLflow's artifacts are claims the portal checks: the registry sync records a manifest of every
file's SHA-256 when it first sees a version and checks it again on deep syncs for versions that
are approved or serving. A version whose bytes differ is marked tampered by
``portal.deployments.workflow.version_tampered``; the sync tells it, and this module, through
``portal.catalog.signals``.

Versions recorded before content manifests carry a digest of their file listing and ``MLmodel``
only; ``version_manifest_recorded`` gives such a version its manifest (once its files still give
that digest) and moves its approvals to the new digest, in one transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.models import ApprovalRequest
from portal.catalog.models import ModelVersion
from portal.core.audit import Actor, audit_record


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


def on_version_manifest_found(
    *, actor: Actor, version: ModelVersion, manifest: dict, digest: str, **signal: object
) -> None:
    """Receives ``portal.catalog.signals.version_manifest_found``."""
    version_manifest_recorded(actor=actor, version=version, manifest=manifest, digest=digest)
