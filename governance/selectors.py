"""Reads of governance: the audit trail, policies, approval requests, classifications and tier
proposals, and who may read them."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, Prefetch, QuerySet

from governance.models import (
    ApprovalDecision,
    ApprovalRequest,
    AuditEvent,
    PolicyVersion,
    ProposalState,
    RiskClassification,
    TierProposal,
)
from portal.catalog.models import RegisteredModel
from tenants.access import GOVERNANCE_ROLES, platform_role_of
from tenants.selectors import tenants_visible_to, unit_records_visible_to

AUDIT_READERS = GOVERNANCE_ROLES
POLICY_PUBLISHERS = GOVERNANCE_ROLES


def audit_events_across_tenants() -> QuerySet[AuditEvent]:
    """The platform-wide trail, newest first (``governance.filters.AuditFilter`` filters it).
    Callers check for a governance or admin role."""
    return (
        AuditEvent.objects.dangerously_across_tenants()
        .select_related("tenant")
        .order_by("-created_at", "-id")
    )


def policy_versions_visible_to(principal: Any) -> QuerySet[PolicyVersion]:
    """Every version for governance; for others, the policies for every tenant and those of the
    tenants they can open, so a list never names another unit."""
    versions = PolicyVersion.objects.order_by("name", "-version")
    if platform_role_of(principal) in POLICY_PUBLISHERS:
        return versions
    mine = set(tenants_visible_to(principal).values_list("slug", flat=True))
    names = {
        name
        for name, tenants in versions.values_list("name", "tenants")
        if not tenants or mine & set(tenants)
    }
    return versions.filter(name__in=names)


def in_force_ids() -> set[int]:
    """The policy versions in force: the newest version of each policy."""
    newest = PolicyVersion.objects.values("name").annotate(newest=Max("version"))
    return {
        pk
        for row in newest
        for pk in PolicyVersion.objects.filter(name=row["name"], version=row["newest"]).values_list(
            "pk", flat=True
        )
    }


def visible_approvals(principal: Any) -> QuerySet[ApprovalRequest]:
    """The approval requests ``principal`` may see (a cross-tenant read, filtered by access)."""
    decisions = ApprovalDecision.objects.dangerously_across_tenants().select_related("reviewer")
    approvals = (
        ApprovalRequest.objects.dangerously_across_tenants()
        .select_related("tenant", "model_version__model", "deployment", "policy_version")
        .prefetch_related(Prefetch("decisions", queryset=decisions))
    )
    return unit_records_visible_to(principal, approvals, readers=GOVERNANCE_ROLES)


# What a list of approval requests never shows: the policy's document, and the JSON and text of
# the model version, the model and the deployment (a request's own page reads them).
NOT_LISTED = (
    "policy_version__document",
    "policy_version__description",
    "model_version__description",
    "model_version__aliases",
    "model_version__mlflow_tags",
    "model_version__metrics",
    "model_version__params",
    "model_version__datasets",
    "model_version__signature",
    "model_version__details_error",
    "model_version__model__description",
    "model_version__model__use_case",
    "model_version__model__intended_use",
    "model_version__model__limitations",
    "model_version__model__mlflow_tags",
    "model_version__model__aliases",
    "deployment__serving",
    "deployment__decision",
)


def approvals_listed(principal: Any) -> QuerySet[ApprovalRequest]:
    """``visible_approvals`` for a list: without what only a request's own page shows."""
    return visible_approvals(principal).defer(*NOT_LISTED)


def classification_in_force(model: RegisteredModel) -> RiskClassification | None:
    """The model's newest classification, which is in force (with who set it)."""
    return RiskClassification.objects.filter(model=model).first()


def tier_proposals() -> QuerySet[TierProposal]:
    """The tier proposals of the tenant in scope, newest first, with what their lists show."""
    return TierProposal.objects.select_related("model", "based_on").order_by("-created_at", "-id")


def tier_proposal_open_of(model: RegisteredModel) -> TierProposal | None:
    return tier_proposals().filter(model=model, state=ProposalState.OPEN).first()
