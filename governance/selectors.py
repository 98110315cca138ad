"""Reads of governance: the audit trail, policies, approval requests, delegations, classifications
and tier proposals, and who may read them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, OuterRef, Prefetch, QuerySet, Subquery

from governance.models import (
    ApprovalDecision,
    ApprovalRequest,
    AuditEvent,
    Delegation,
    PolicyVersion,
    ProposalState,
    RiskClassification,
    TierProposal,
)
from portal.catalog.models import RegisteredModel
from tenants.access import GOVERNANCE_ROLES, platform_role_of
from tenants.models import PlatformRole
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


def delegations_visible_to(principal: Any) -> QuerySet[Delegation]:
    """Every delegation for governance leads and platform admins, newest first; none for others."""
    if platform_role_of(principal) not in GOVERNANCE_ROLES:
        return Delegation.objects.none()
    return Delegation.objects.select_related("lead", "delegate").order_by("-starts_at", "-id")


def delegation_stand_ins(*, now: datetime) -> dict[int, Any]:
    """Who hears for each absent lead at ``now``: a lead's id to their delegate in force (one who
    is still an active governance lead).

    A delegate who is away too passes it on to their own delegate; in a circle of delegations
    (everyone in it away) each lead keeps their own.
    """
    direct = {
        delegation.lead_id: delegation.delegate
        for delegation in Delegation.objects.filter(
            ended_at=None,
            starts_at__lte=now,
            ends_at__gt=now,
            delegate__is_active=True,
            delegate__platform_role=PlatformRole.GOVERNANCE_LEAD,
        )
        .select_related("delegate")
        .order_by("starts_at", "id")
    }
    stand_ins = {}
    for lead_id, delegate in direct.items():
        seen = {lead_id}
        while delegate.pk in direct and delegate.pk not in seen:
            seen.add(delegate.pk)
            delegate = direct[delegate.pk]
        if delegate.pk != lead_id:
            stand_ins[lead_id] = delegate
    return stand_ins


def tier_setters(
    model_ids: Collection[int], *, classifications: QuerySet[RiskClassification] | None = None
) -> dict[int, tuple[str, str]]:
    """Who set each model's risk tier, by model id: the authority (``ClassificationAuthority``:
    the unit or governance) and the person of the model's newest classification, which is in
    force (models never classified are left out). One query.

    ``classifications`` is where to read: the scoped tenant's (the default), or a cross-tenant
    read for a platform-wide list of models its caller may see.
    """
    ids = list(model_ids)
    if not ids:
        return {}
    read = RiskClassification.objects.all() if classifications is None else classifications
    newest = read.filter(model_id=OuterRef("model_id")).order_by("-created_at", "-id")
    rows = read.filter(model_id__in=ids, pk=Subquery(newest.values("pk")[:1])).values_list(
        "model_id", "set_by", "classified_by_label"
    )
    return {model_id: (set_by, person) for model_id, set_by, person in rows}


def open_tier_proposal_counts(
    model_ids: Collection[int], *, proposals: QuerySet[TierProposal] | None = None
) -> dict[int, int]:
    """How many proposals to change each model's risk tier are open, by model id (models without
    one are left out). One query; ``proposals`` is where to read, as for ``tier_setters``."""
    ids = list(model_ids)
    if not ids:
        return {}
    read = TierProposal.objects.all() if proposals is None else proposals
    rows = (
        read.filter(model_id__in=ids, state=ProposalState.OPEN)
        .values("model_id")
        .annotate(open=Count("pk"))
        .values_list("model_id", "open")
    )
    return dict(rows)


def classification_in_force(model: RegisteredModel) -> RiskClassification | None:
    """The model's newest classification, which is in force (with who set it)."""
    return RiskClassification.objects.filter(model=model).first()


def tier_proposals() -> QuerySet[TierProposal]:
    """The tier proposals of the tenant in scope, newest first, with what their lists show."""
    return TierProposal.objects.select_related("model", "based_on").order_by("-created_at", "-id")


def tier_proposal_open_of(model: RegisteredModel) -> TierProposal | None:
    return tier_proposals().filter(model=model, state=ProposalState.OPEN).first()
