"""API: what reviewers and units do that moves deployments, beside the governance API.

A reviewer's verdict and a withdrawn request move the deployment waiting for them; a model's new
risk tier (answered, or a tier proposal a governance lead accepts) voids the cover of its
approvals; a dry run builds its context, cost included, as a real request does. The routes are
the governance API's (``/api/v1/approvals/...``, ``/api/v1/policies/dry-run/``,
``/api/v1/tenants/{tenant}/models/{name}/classification/``,
``/api/v1/tenants/{tenant}/tier-proposals/{id}/accept/`` and ``.../reject/``).
"""

from __future__ import annotations

from contextlib import nullcontext

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.approvals import visible_approval
from governance.classification import questionnaire
from governance.models import RiskClassification, TierProposal
from governance.selectors import POLICY_PUBLISHERS, tier_proposal_open_of, tier_proposals
from governance.serializers import (
    ApprovalSerializer,
    ClassificationOverviewSerializer,
    ClassifiedSerializer,
    ClassifySerializer,
    DecideSerializer,
    DecisionSerializer,
    DryRunSerializer,
    ProposedSerializer,
    RiskClassificationSerializer,
    TierProposalRejectSerializer,
    TierProposalSerializer,
    set_by,
)
from governance.services.classification import (
    TOKENS_NEVER_CONFIRM,
    is_governance_lead,
    tier_proposal_reject,
)
from governance.services.policies import policy_dry_run
from portal.catalog.models import ModelVersion, RegisteredModel
from portal.core.api.schema import ERRORS
from portal.core.audit import Actor
from portal.core.errors import InvalidRequest, NotAllowed, NotFound
from portal.deployments.workflow import (
    approval_decide,
    approval_withdraw,
    classification_submit,
    policy_dry_run_version,
    tier_proposal_accept,
)
from tenants.access import (
    person_answerable_for,
    person_required,
    platform_role_of,
    tenant_capabilities,
)
from tenants.models import Membership, Tenant, TenantRole, User
from tenants.routing import TenantScopedAPIView
from tenants.scoping import tenant_scope

PEOPLE_DECIDE = "Service tokens cannot decide approvals; a person must."


class ApprovalDecisionView(generics.GenericAPIView):
    """Record your verdict: approve, reject or request changes (a comment says why)."""

    serializer_class = DecideSerializer

    @extend_schema(request=DecideSerializer, responses=ApprovalSerializer)
    def post(self, request: Request, approval_id: int) -> Response:
        approval = visible_approval(request, approval_id)
        reviewer = person_required(request, why=PEOPLE_DECIDE)
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with tenant_scope(approval.tenant):
            approval = approval_decide(
                actor=Actor.from_request(request),
                reviewer=reviewer,
                approval=approval,
                **data.validated_data,
            )
            return Response(ApprovalSerializer(approval).data)


class ApprovalWithdrawView(generics.GenericAPIView):
    """The requester, or an owner of the unit, withdraws an open request."""

    serializer_class = ApprovalSerializer

    @extend_schema(request=None, responses=ApprovalSerializer)
    def post(self, request: Request, approval_id: int) -> Response:
        approval = visible_approval(request, approval_id)
        person = person_required(request, why=PEOPLE_DECIDE)
        with tenant_scope(approval.tenant):
            is_owner = Membership.objects.filter(user_id=person.pk, role=TenantRole.OWNER).exists()
            if approval.requested_by_id != person.pk and not is_owner:
                raise NotAllowed("Only the requester or an owner of the unit can withdraw it.")
            approval = approval_withdraw(actor=Actor.from_request(request), approval=approval)
            return Response(ApprovalSerializer(approval).data)


class ClassificationView(TenantScopedAPIView, generics.GenericAPIView):
    """The model's EU AI Act questionnaire, its classification in force (and who set it), the
    open tier proposal and the history.

    POST answers the questionnaire (engineers, owners, their tokens, governance leads). A
    governance lead's answers take effect (201); the unit's take effect when the model has no
    classification yet, when they raise the tier or keep the unit's own tier (201), and become a
    tier proposal for a governance lead when they lower the tier or change a lead's answers
    (202). Answers that restate the classification in force change nothing (200).
    """

    serializer_class = RiskClassificationSerializer
    required_capabilities = {
        **TenantScopedAPIView.required_capabilities,
        "POST": ("write", "govern"),
    }

    @extend_schema(responses=ClassificationOverviewSerializer)
    def get(self, request: Request, tenant: str, name: str) -> Response:
        model = get_object_or_404(RegisteredModel.objects.all(), name=name)
        history = RiskClassification.objects.filter(model=model)[:50]
        current = history[0] if history else None
        proposal = tier_proposal_open_of(model)
        return Response(
            {
                "model": model.name,
                "tier": model.risk_tier,
                "set_by": set_by(current) if current else None,
                "questionnaire": questionnaire(),
                "current": RiskClassificationSerializer(current).data if current else None,
                "open_proposal": TierProposalSerializer(proposal).data if proposal else None,
                "history": RiskClassificationSerializer(history, many=True).data,
            }
        )

    @extend_schema(
        request=ClassifySerializer,
        responses={200: ClassifiedSerializer, 201: ClassifiedSerializer, 202: ProposedSerializer},
    )
    def post(self, request: Request, tenant: str, name: str) -> Response:
        model = get_object_or_404(RegisteredModel.objects.all(), name=name)
        data = ClassifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answered = classification_submit(
            actor=Actor.from_request(request),
            model=model,
            answers=data.validated_data["answers"],
            user=person_answerable_for(request),
        )
        context = {"message": answered.message}
        if answered.proposal is not None:
            return Response(
                ProposedSerializer(answered.proposal, context=context).data,
                status=status.HTTP_202_ACCEPTED,
            )
        return Response(
            ClassifiedSerializer(answered.classification, context=context).data,
            status=status.HTTP_201_CREATED if answered.created else status.HTTP_200_OK,
        )


class TierProposalDecisionView(TenantScopedAPIView, generics.GenericAPIView):
    """The base of accepting and rejecting a tier proposal: governance leads only, signed in;
    a token never confirms a tier, whoever created it."""

    serializer_class = TierProposalSerializer
    # Anyone with access reaches the handler, which answers a token or a non-lead with a 403
    # that says why (another tenant still gets the 404).
    required_capabilities = {**TenantScopedAPIView.required_capabilities, "POST": None}

    def lead_and_proposal(self, request: Request, proposal_id: int) -> tuple[User, TierProposal]:
        proposal = get_object_or_404(tier_proposals(), pk=proposal_id)
        lead = person_required(request, why=TOKENS_NEVER_CONFIRM)
        if not is_governance_lead(lead):
            raise NotAllowed("Only governance leads accept or reject tier proposals.")
        return lead, proposal


class TierProposalAcceptView(TierProposalDecisionView):
    """Accept the proposal: its answers take effect as the lead's classification."""

    @extend_schema(request=None, responses=TierProposalSerializer)
    def post(self, request: Request, tenant: str, proposal_id: int) -> Response:
        lead, proposal = self.lead_and_proposal(request, proposal_id)
        proposal = tier_proposal_accept(
            actor=Actor.from_request(request), proposal=proposal, lead=lead
        )
        return Response(TierProposalSerializer(proposal).data)


class TierProposalRejectView(TierProposalDecisionView):
    """Reject the proposal with a comment (required): the tier in force stays."""

    @extend_schema(request=TierProposalRejectSerializer, responses=TierProposalSerializer)
    def post(self, request: Request, tenant: str, proposal_id: int) -> Response:
        lead, proposal = self.lead_and_proposal(request, proposal_id)
        data = TierProposalRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = tier_proposal_reject(
            actor=Actor.from_request(request),
            proposal=proposal,
            lead=lead,
            comment=data.validated_data["comment"],
        )
        return Response(TierProposalSerializer(proposal).data)


class PolicyDryRunView(generics.GenericAPIView):
    """Which rules fire for a hypothetical request, and the decision the policy would make.

    Name a tenant's model version (the context is built exactly as for a real request), or pass
    a whole ``context``; pass ``document`` to try a draft policy instead of the one in force.
    """

    serializer_class = DryRunSerializer

    @extend_schema(request=DryRunSerializer, responses={200: DecisionSerializer, 404: ERRORS[404]})
    def post(self, request: Request) -> Response:
        data = DryRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        tenant = None
        if given.get("tenant"):
            tenant = Tenant.objects.filter(slug=given["tenant"]).first()
            if tenant is None:
                raise NotFound("Not found.")
        with tenant_scope(tenant) if tenant else nullcontext():
            if tenant is not None and "read" not in tenant_capabilities(request.user, tenant):
                raise NotFound("Not found.")
            if given.get("document") and platform_role_of(request.user) not in POLICY_PUBLISHERS:
                raise NotAllowed("Only governance leads try draft policies.")
            context = given.get("context")
            if context is None:
                if tenant is None or not given.get("model") or not given.get("version"):
                    raise InvalidRequest(
                        "Give tenant, model, version and environment, or a whole context."
                    )
                version = (
                    ModelVersion.objects.select_related("model")
                    .filter(model__name=given["model"], version=given["version"])
                    .first()
                )
                if version is None:
                    raise NotFound("Not found.")
                policy, decision, context = policy_dry_run_version(
                    tenant=tenant,
                    version=version,
                    environment=given.get("environment") or "staging",
                    target=given["target"],
                    instance_type=given["instance_type"],
                    replicas=given["replicas"],
                    drift_monitor=given["drift_monitor"],
                    document=given.get("document"),
                )
            else:
                policy, decision = policy_dry_run(
                    context=context, document=given.get("document"), tenant=tenant
                )
        body = {
            **decision.as_dict(),
            "policy": {"name": policy.name, "version": policy.version} if policy else None,
            "context": context,
        }
        return Response(body)
