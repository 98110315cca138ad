"""The governed catalog: each tenant's registered models and versions, mirrored from MLflow.

MLflow owns names, versions, aliases, tags and run data; the portal owns the catalog metadata a
governance process needs (owner, use case, intended use, limitations) and what it observed
(the manifest of its artifact files' SHA-256 hashes when first seen and its digest, whether the
artifacts changed since, when a model went missing from MLflow).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


def _from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


class RiskTier(models.TextChoices):
    """EU AI Act risk tiers; empty until the model's classification questionnaire is answered."""

    PROHIBITED = "prohibited", "Prohibited"
    HIGH = "high", "High risk"
    LIMITED = "limited", "Limited risk"
    MINIMAL = "minimal", "Minimal risk"


class RegisteredModel(TenantOwnedModel):
    name = models.CharField(max_length=256)
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True, default="")
    description = models.TextField(blank=True)
    owner = models.CharField(
        max_length=150, blank=True, help_text="The person accountable for the model."
    )
    use_case = models.TextField(blank=True)
    intended_use = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    mlflow_tags = models.JSONField(default=dict, blank=True)
    aliases = models.JSONField(default=dict, blank=True)  # alias -> version number
    mlflow_created_ms = models.BigIntegerField(null=True)
    mlflow_updated_ms = models.BigIntegerField(null=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    gone_from_mlflow = models.BooleanField(default=False)
    gone_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="catalog_model_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def mlflow_updated_at(self) -> datetime | None:
        return _from_ms(self.mlflow_updated_ms)


class VersionStatus(models.TextChoices):
    PENDING = "PENDING_REGISTRATION", "Pending registration"
    FAILED = "FAILED_REGISTRATION", "Failed registration"
    READY = "READY", "Ready"


class ModelVersion(TenantOwnedModel):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    run_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=32, default=VersionStatus.READY)
    description = models.TextField(blank=True)
    aliases = models.JSONField(default=list, blank=True)
    mlflow_tags = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    datasets = models.JSONField(
        default=list, blank=True
    )  # [{name, digest, source, source_type, context}]
    signature = models.JSONField(null=True, blank=True)  # {"inputs": [...], "outputs": [...]}
    artifact_size_bytes = models.BigIntegerField(null=True, blank=True)
    # The digest of ``artifact_manifest`` (see portal.catalog.digests); approvals are bound to it.
    artifact_digest = models.CharField(max_length=64, blank=True)
    # {path: {"sha256": ..., "size": ...}} of every artifact file, as first seen.
    artifact_manifest = models.JSONField(default=dict, blank=True)
    artifacts_checked_at = models.DateTimeField(null=True, blank=True)
    # Set when MLflow later served other bytes than first seen; such a version is never deployed.
    tampered_at = models.DateTimeField(null=True, blank=True)
    tamper_report = models.TextField(blank=True)
    mlflow_created_ms = models.BigIntegerField(null=True)
    mlflow_updated_ms = models.BigIntegerField(null=True)
    details_synced_at = models.DateTimeField(null=True, blank=True)
    details_error = models.TextField(blank=True)
    gone_from_mlflow = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="catalog_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} v{self.version}"

    @property
    def mlflow_created_at(self) -> datetime | None:
        return _from_ms(self.mlflow_created_ms)

    @property
    def tampered(self) -> bool:
        return self.tampered_at is not None


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(TenantOwnedModel):
    """One pass of the registry sync for a tenant, with its counts and progress."""

    trigger = models.CharField(max_length=32, default="schedule")  # schedule, api, command, webhook
    deep = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    models_seen = models.PositiveIntegerField(default=0)
    models_changed = models.PositiveIntegerField(default=0)
    models_gone = models.PositiveIntegerField(default=0)
    versions_created = models.PositiveIntegerField(default=0)
    versions_updated = models.PositiveIntegerField(default=0)
    writes = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # At most one running sync per tenant: a second one finds this and stands down.
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(status="running"), name="catalog_one_running_sync"
            ),
        ]

    def __str__(self) -> str:
        return f"sync {self.pk} of tenant {self.tenant_id}: {self.status}"


class UnassignedModel(models.Model):
    """A registered model in MLflow that no tenant claims yet; platform admins assign it."""

    name = models.CharField(max_length=256, unique=True)
    mlflow_tags = models.JSONField(default=dict, blank=True)
    latest_version = models.PositiveIntegerField(null=True, blank=True)
    mlflow_updated_ms = models.BigIntegerField(null=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClaimedVia(models.TextChoices):
    TAG = "tag", "its portal.tenant tag"
    PREFIX = "prefix", "the unit's name prefix"
    ASSIGNMENT = "assignment", "a platform admin's assignment"
    REGISTRATION = "registration", "a registration from the portal"


class ModelOwnership(models.Model):
    """Which unit a registered model of MLflow belongs to, as the portal first recorded it.

    MLflow has no say after the first claim: a ``portal.tenant`` tag that names another unit later
    is kept here as a conflict for platform admins, and the model stays where it is. Platform-wide
    on purpose: the sync of one unit must see that a name is another unit's.
    """

    name = models.CharField(max_length=256, unique=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")
    claimed_via = models.CharField(max_length=16, choices=ClaimedVia.choices)
    claimed_at = models.DateTimeField(default=timezone.now)
    # What MLflow's tag says instead of the owner, while it disagrees ("" when it agrees).
    conflicting_tag = models.CharField(max_length=256, blank=True)
    conflict_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(
                fields=["conflict_since"],
                condition=Q(conflict_since__isnull=False),
                name="catalog_ownership_conflicts",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (unit {self.tenant_id})"


class JobKind(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    ASSIGNMENT = "assignment", "Assignment"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class CatalogJob(TenantOwnedModel):
    """A registration or an assignment queued for a worker, with its progress and outcome."""

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    model_name = models.CharField(max_length=256)
    source = models.CharField(max_length=1024, blank=True)
    run_id = models.CharField(max_length=64, blank=True)
    requested_by = models.JSONField(default=dict)  # the Actor who asked: type, label, id
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.CharField(max_length=200, default="waiting for a worker")
    version = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.model_name}: {self.status}"
