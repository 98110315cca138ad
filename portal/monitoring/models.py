"""Monitoring: captured traffic, baselines, monitors and drift runs.

``CapturedRequest`` holds one gateway request (its rows as arrays) while it is hot; the
compaction task moves it to Parquet partitions per deployment and hour and deletes it.
A ``Baseline`` is the compact reference profile of one model version. A ``Monitor`` watches a
named endpoint; each of its runs writes one ``DriftRun`` per live revision, whose
``drift_status`` is the deployment's drift status. ``MonitorSpan`` rows record when a monitor was
enabled: the monitoring charge follows them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class CapturedRequest(TenantOwnedModel):
    """One request the gateway answered: input rows in column order and one prediction per row.

    A request rather than a row: the gateway writes one database row per request (batches stay
    cheap), and readers turn each into columns without joining anything.
    """

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    received_at = models.DateTimeField()
    columns = models.JSONField(default=list)
    rows = models.JSONField(default=list)
    predictions = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(default=0.0)
    shadow = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["deployment", "received_at"], name="capture_deployment_time"),
            models.Index(fields=["received_at"], name="capture_time"),
        ]

    def __str__(self) -> str:
        return f"capture {self.pk} of deployment {self.deployment_id} ({self.row_count} rows)"


class BaselineSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    DATASET = "dataset", "Dataset logged with the run"
    CAPTURE = "capture", "First captured rows"


class BaselineStatus(models.TextChoices):
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Baseline(TenantOwnedModel):
    """The reference profile of a model version (one per version; a rebuild replaces it)."""

    model_version = models.ForeignKey(
        "catalog.ModelVersion", on_delete=models.CASCADE, related_name="baselines"
    )
    source = models.CharField(max_length=16, choices=BaselineSource.choices)
    source_detail = models.CharField(max_length=1024, blank=True)
    status = models.CharField(
        max_length=16, choices=BaselineStatus.choices, default=BaselineStatus.BUILDING
    )
    error = models.TextField(blank=True)
    rows = models.PositiveIntegerField(default=0)
    columns = models.JSONField(default=list, blank=True)  # [{"name", "kind"}]
    prediction_columns = models.JSONField(default=list, blank=True)
    profile = models.BinaryField(default=b"")
    profile_bytes = models.PositiveIntegerField(default=0)
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["model_version"], name="baseline_one_per_version"),
        ]

    def __str__(self) -> str:
        return f"baseline of version {self.model_version_id} ({self.status})"


class Window(models.TextChoices):
    HOUR = "hour", "Last hour"
    DAY = "day", "Last day"
    ROWS = "rows", "Last N rows"


class ActOn(models.TextChoices):
    DRIFT = "drift", "Dataset drift"
    WARNING = "warning", "Any drifted column"


class Monitor(TenantOwnedModel):
    """Drift monitoring of one endpoint (every live revision of it). A request with the drift
    option creates it when its revision goes live; its owner can also create it by hand."""

    endpoint = models.SlugField(max_length=63, help_text="The deployment name it watches.")
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=60)
    window = models.CharField(max_length=8, choices=Window.choices, default=Window.HOUR)
    window_rows = models.PositiveIntegerField(default=10000)
    drift_share = models.FloatField(default=0.5)
    column_overrides = models.JSONField(default=dict, blank=True)  # {column: {method, threshold}}
    act_on = models.CharField(max_length=8, choices=ActOn.choices, default=ActOn.DRIFT)
    alert_emails = models.JSONField(default=list, blank=True)
    alert = models.BooleanField(default=True, help_text="Email alert_emails and notify webhooks.")
    open_incident = models.BooleanField(default=False)
    retrain_webhook = models.BooleanField(default=False)
    review_high_risk = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["endpoint"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "endpoint"], name="monitor_one_per_endpoint"),
        ]
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="monitor_due")]

    def __str__(self) -> str:
        return f"monitor of {self.endpoint}"


class MonitorSpan(TenantOwnedModel):
    """A time during which a monitor was enabled (``ended_at`` empty: it still is).

    The monitoring charge is metered from these, so it follows the monitor's real life rather
    than what a request asked for.
    """

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="spans")
    endpoint = models.SlugField(max_length=63)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["endpoint", "started_at"], name="monitorspan_endpoint")]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor"],
                condition=Q(ended_at__isnull=True),
                name="monitorspan_one_open_per_monitor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} monitored from {self.started_at:%Y-%m-%d %H:%M}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DriftLevel(models.TextChoices):
    OK = "ok", "No drift"
    WARNING = "warning", "Some columns drift"
    DRIFT = "drift", "Drift"
    UNKNOWN = "unknown", "Unknown"


class DriftRun(TenantOwnedModel):
    """One comparison of a deployment's captured window with its version's baseline."""

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="drift_runs"
    )
    monitor = models.ForeignKey(
        Monitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    baseline = models.ForeignKey(
        Baseline, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    trigger = models.CharField(max_length=16, default="schedule")  # schedule, api
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    progress_note = models.CharField(max_length=200, blank=True)
    window = models.CharField(max_length=8, choices=Window.choices, default=Window.HOUR)
    window_rows = models.PositiveIntegerField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    current_rows = models.PositiveIntegerField(default=0)
    reference_rows = models.PositiveIntegerField(default=0)
    drift_status = models.CharField(
        max_length=8, choices=DriftLevel.choices, default=DriftLevel.UNKNOWN
    )
    reason = models.TextField(blank=True)
    dataset_drift = models.BooleanField(default=False)
    share_drifted = models.FloatField(default=0.0)
    share_threshold = models.FloatField(default=0.5)
    columns = models.JSONField(default=list, blank=True)
    drifted_columns = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=dict, blank=True)
    actions_done_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["deployment", "-created_at"], name="driftrun_deployment_time"),
        ]
        constraints = [
            # One queued or running run per deployment: a second schedule tick finds it and waits.
            models.UniqueConstraint(
                fields=["deployment"],
                condition=Q(status__in=["queued", "running"]),
                name="driftrun_one_open_per_deployment",
            ),
        ]

    def __str__(self) -> str:
        return f"drift run {self.pk} of deployment {self.deployment_id}: {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
