"""Deployments: a request to serve one model version in an environment, and its lifecycle.

A deployment is created by a request, decided by the governance policy (allowed, waiting for
approvals, or denied) and, once approved, rolled out on its target.

Every deployment is one *revision* of a named endpoint (``name``, unique per tenant together with
``revision``): the gateway serves ``/serve/{tenant}/{name}/invocations`` and spreads the traffic
over the endpoint's live revisions by ``traffic_weight`` (a canary is a new revision with a
weight below 100); a ``shadow`` revision gets a copy of the traffic and its answers are only
captured. A revision replaced by a newer one keeps its server warm until ``warm_until`` so a
rollback is a change of weights. ``live_from``/``live_until`` are the interval its server ran,
which chargeback meters to the second, less the stretches the revision was suspended.

A governance decision (a prohibited risk tier, an overdue re-certification) *suspends* a live
revision: it takes no traffic, its server is stopped, and a ``Suspension`` records why and the
share of the traffic it had, given back when it resumes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.models import Environment
from tenants.scoping import TenantOwnedModel

__all__ = [
    "Deployment",
    "DeploymentState",
    "Environment",
    "GatewayMinute",
    "Suspension",
    "SuspensionCause",
    "Target",
]


class Target(models.TextChoices):
    LOCAL = "local", "Local model servers"
    KSERVE = "kserve", "KServe on Kubernetes"
    SAGEMAKER = "sagemaker", "Amazon SageMaker"


class DeploymentState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    DEPLOYING = "deploying", "Deploying"
    LIVE = "live", "Live"
    SUSPENDED = "suspended", "Suspended"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    RETIRED = "retired", "Retired"


class Deployment(TenantOwnedModel):
    name = models.SlugField(
        max_length=63, default="", help_text="The endpoint this deployment is a revision of."
    )
    revision = models.PositiveIntegerField(default=1)
    model_version = models.ForeignKey(
        "catalog.ModelVersion", on_delete=models.PROTECT, related_name="deployments"
    )
    environment = models.CharField(max_length=16, choices=Environment.choices)
    target = models.CharField(max_length=16, choices=Target.choices, default=Target.LOCAL)
    instance_type = models.CharField(max_length=64)
    replicas = models.PositiveSmallIntegerField(default=1)
    canary_weight = models.PositiveSmallIntegerField(null=True, blank=True)
    drift_monitor = models.BooleanField(
        default=True, help_text="Monitor drift of this deployment's traffic."
    )
    shadow = models.BooleanField(
        default=False, help_text="Receives a copy of the traffic; its answers are only captured."
    )
    traffic_weight = models.PositiveSmallIntegerField(
        default=0, help_text="Share of the endpoint's traffic, in percent, while live."
    )
    live_from = models.DateTimeField(null=True, blank=True)
    live_until = models.DateTimeField(null=True, blank=True)
    warm_until = models.DateTimeField(null=True, blank=True)
    # What the target last reported: state (pending, ready, failed), url, message, checked_at.
    serving = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=20, choices=DeploymentState.choices, default=DeploymentState.REQUESTED
    )
    policy_version = models.ForeignKey(
        "governance.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deployments",
    )
    decision = models.JSONField(default=dict, blank=True)  # outcome, requirements, reasons, rules
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "state"], name="deployment_tenant_state"),
            models.Index(fields=["tenant", "name", "state"], name="deployment_endpoint_state"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name", "revision"], name="deployment_revision_unique"
            )
        ]

    def __str__(self) -> str:
        return f"deployment {self.name} r{self.revision} ({self.environment}, {self.state})"


class GatewayMinute(TenantOwnedModel):
    """What the inference gateway saw of one revision in one minute (summed over processes)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="minutes")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)  # answers with a status of 400 or more
    input_rows = models.PositiveIntegerField(default=0)
    latency_ms_total = models.FloatField(default=0.0)
    latency_ms_max = models.FloatField(default=0.0)
    captured = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)  # captures lost because the buffer was full

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "minute"], name="gateway_minute_unique")
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} {self.minute:%Y-%m-%d %H:%M}"


class SuspensionCause(models.TextChoices):
    PROHIBITED = "prohibited", "The model is classified as prohibited"
    RECERTIFICATION_OVERDUE = "recertification_overdue", "Re-certification overdue"


class Suspension(TenantOwnedModel):
    """A stretch of time a live revision was out of service by a governance decision.

    Open (``ended_at`` empty) while the revision is suspended; ``traffic_weight`` is the share of
    the endpoint's traffic it had, given back when it resumes. Chargeback charges no compute for
    [started_at, ended_at).
    """

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="suspensions")
    cause = models.CharField(max_length=32, choices=SuspensionCause.choices)
    reason = models.TextField()
    traffic_weight = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment"],
                condition=Q(ended_at__isnull=True),
                name="suspension_one_open_per_deployment",
            )
        ]

    def __str__(self) -> str:
        return f"suspension of {self.deployment_id} ({self.cause})"
