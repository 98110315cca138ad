"""Approval requests for deployments, the reviewers' decisions, and re-certification of models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    SUPERSEDED = "superseded", "Superseded"


OPEN_APPROVAL_STATES = (ApprovalState.PENDING, ApprovalState.CHANGES_REQUESTED)


class ApprovalPurpose(models.TextChoices):
    ROLLOUT = "rollout", "Before rollout"
    REVIEW = "review", "Review of a live deployment"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class ApprovalRequest(TenantOwnedModel):
    """What a deployment needs before it may roll out, bound to one version, digest and policy.

    A ``review`` is asked for a deployment that is already live (its high-risk model drifted,
    say): it keeps serving while reviewers decide; approval re-certifies it, rejection takes it
    out of the traffic.

    ``requirements`` maps an approver role to the number of distinct people of that role who
    must approve (``{"governance_lead": 2}``).
    """

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="approvals"
    )
    purpose = models.CharField(
        max_length=8, choices=ApprovalPurpose.choices, default=ApprovalPurpose.ROLLOUT
    )
    model_version = models.ForeignKey(
        "catalog.ModelVersion", on_delete=models.PROTECT, related_name="approvals"
    )
    artifact_digest = models.CharField(max_length=64, blank=True)
    policy_version = models.ForeignKey(
        "governance.PolicyVersion", on_delete=models.PROTECT, related_name="approvals"
    )
    risk_tier = models.CharField(max_length=16, blank=True)
    risk_rank = models.PositiveSmallIntegerField(default=9)  # 0 is the riskiest; the queue's order
    requirements = models.JSONField(default=dict)
    reasons = models.JSONField(default=list)
    state = models.CharField(
        max_length=20, choices=ApprovalState.choices, default=ApprovalState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The reviewers were reminded, and the governance leads told it waits too long: once each.
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["risk_rank", "created_at", "id"]
        indexes = [models.Index(fields=["state", "risk_rank", "created_at"], name="approval_queue")]

    def __str__(self) -> str:
        return f"approval {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_APPROVAL_STATES


class ApprovalDecision(TenantOwnedModel):
    """One reviewer's verdict. A person decides once per request, so nobody counts twice."""

    approval = models.ForeignKey(
        ApprovalRequest, on_delete=models.CASCADE, related_name="decisions"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewer_role = models.CharField(max_length=32, blank=True)  # the role the approval counted for
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["approval", "reviewer"], name="approval_one_decision_per_reviewer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} by {self.reviewer_id} on approval {self.approval_id}"


class CertificationState(models.TextChoices):
    CURRENT = "current", "Current"
    DUE = "due", "Due soon"
    OVERDUE = "overdue", "Overdue"


class ModelCertification(TenantOwnedModel):
    """When a high-risk model was last approved for production and when it must be again."""

    model = models.OneToOneField(
        "catalog.RegisteredModel", on_delete=models.CASCADE, related_name="certification"
    )
    certified_at = models.DateTimeField()
    due_at = models.DateTimeField()
    state = models.CharField(
        max_length=16, choices=CertificationState.choices, default=CertificationState.CURRENT
    )
    notified_state = models.CharField(max_length=16, blank=True)
    approval = models.ForeignKey(
        ApprovalRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["state", "due_at"], name="certification_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_at__gt=models.F("certified_at")), name="due_after_certified"
            )
        ]

    def __str__(self) -> str:
        return f"certification of model {self.model_id}: {self.state}"
