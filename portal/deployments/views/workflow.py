"""Pages where approvals meet deployments: one approval request, where reviewers decide and the
unit withdraws; a model's risk classification and its open tier proposal, which governance leads
accept or reject; one policy, tried on a request.

An approval request outside what the person may see
(``governance.selectors.visible_approvals``) is a 404, the same as a missing one; everything
about one request is read and decided inside its tenant's scope. The routes are the governance
pages' (``/governance/approvals/<id>/``, ``/governance/policies/<name>/``,
``/t/<tenant>/models/<name>/classification/``, ``.../tier-proposals/<id>/decision/``).
"""

from __future__ import annotations

import difflib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.classification import CLASSIFIER_VERSION, QUESTIONS
from governance.forms import ClassificationForm, DecisionForm, PolicyDryRunForm, PolicyPublishForm
from governance.models import (
    ApprovalRequest,
    ApprovalState,
    CardStatus,
    PolicyVersion,
    RiskClassification,
    Verdict,
)
from governance.policy import APPROVER_ROLES
from governance.selectors import (
    POLICY_PUBLISHERS,
    in_force_ids,
    policy_versions_visible_to,
    tier_proposal_open_of,
    tier_proposals,
    visible_approvals,
)
from governance.services.approvals import approval_counts, requirements_text, reviewer_roles
from governance.services.cards import card_summary
from governance.services.classification import (
    is_governance_lead,
    tier_proposal_diff,
    tier_proposal_reject,
)
from governance.services.policies import policy_in_force, policy_publish
from portal.catalog.models import ModelVersion, RegisteredModel, RiskTier
from portal.core.audit import Actor
from portal.core.errors import NotAllowed, PortalError
from portal.deployments.services import cost_estimate
from portal.deployments.workflow import (
    approval_decide,
    approval_withdraw,
    classification_submit,
    policy_dry_run_version,
    tier_proposal_accept,
)
from tenants.access import person_required, platform_role_of
from tenants.models import Membership, PlatformRole, Tenant, TenantRole
from tenants.routing import TenantRequest, tenant_page
from tenants.scoping import tenant_scope
from tenants.selectors import member_tenant_ids, tenants_visible_to

DONE = {
    Verdict.APPROVE: "Your approval is recorded.",
    Verdict.REJECT: "You rejected the request; the unit is told why.",
    Verdict.REQUEST_CHANGES: "You asked for changes; the unit is told what to change.",
}
CLASSIFIERS = {"write", "govern"}
HISTORY_SHOWN = 50


SIGNED_IN = "Sign in to decide approvals and publish policies."


def _visible_approval(request: HttpRequest, approval_id: int) -> ApprovalRequest:
    approval = visible_approvals(request.user).filter(pk=approval_id).first()
    if approval is None:
        raise Http404("No such approval request.")
    return approval


def _is_tenant_owner(user: Any) -> bool:
    """Whether ``user`` owns the tenant in scope."""
    return Membership.objects.filter(user_id=user.pk, role=TenantRole.OWNER).exists()


def _decide(request: HttpRequest, approval: ApprovalRequest, form: DecisionForm) -> str:
    """Record the person's verdict; returns the message to show once it is recorded."""
    verdict = form.cleaned_data["verdict"]
    approval = approval_decide(
        actor=Actor.user(request.user),
        reviewer=person_required(request, why=SIGNED_IN),
        approval=approval,
        verdict=verdict,
        comment=form.cleaned_data["comment"].strip(),
    )
    if approval.state == ApprovalState.APPROVED:
        return "The request is approved: every approval it needs is in."
    return DONE[verdict]


def _withdraw(request: HttpRequest, approval: ApprovalRequest) -> str:
    if approval.requested_by_id != request.user.pk and not _is_tenant_owner(request.user):
        raise NotAllowed("Only the requester or an owner of the unit can withdraw it.")
    approval_withdraw(actor=Actor.user(request.user), approval=approval)
    return "The request is withdrawn and its deployment cancelled."


def _progress(approval: ApprovalRequest) -> list[dict[str, Any]]:
    counts = approval_counts(approval)
    return [
        {"role": APPROVER_ROLES.get(role, role), "have": counts.get(role, 0), "need": need}
        for role, need in approval.requirements.items()
    ]


def _page_context(request: HttpRequest, approval: ApprovalRequest) -> dict[str, Any]:
    user = person_required(request, why=SIGNED_IN)
    deployment, version = approval.deployment, approval.model_version
    decisions = list(approval.decisions.all())
    mine = next((d for d in decisions if d.reviewer_id == user.pk), None)
    is_requester = approval.requested_by_id is not None and approval.requested_by_id == user.pk
    can_decide = (
        approval.state == ApprovalState.PENDING
        and not is_requester
        and mine is None
        and bool(reviewer_roles(user, approval))
    )
    return {
        "approval": approval,
        "tenant": approval.tenant,
        "deployment": deployment,
        "version": version,
        "needs": requirements_text(approval.requirements),
        "progress": _progress(approval),
        "decisions": decisions,
        "my_decision": mine,
        "is_requester": is_requester,
        "can_decide": can_decide,
        "can_withdraw": approval.is_open and (is_requester or _is_tenant_owner(user)),
        "cost": cost_estimate(
            environment=deployment.environment,
            target=deployment.target,
            instance_type=deployment.instance_type,
            replicas=deployment.replicas,
            drift_monitor=deployment.drift_monitor,
            tenant=approval.tenant,
        ),
        "card": _card(version),
    }


def _card(version: ModelVersion) -> dict[str, Any]:
    summary = card_summary(version)
    status = summary["status"]
    summary["status_label"] = (
        CardStatus(status).label if status in CardStatus.values else "Not started"
    )
    return summary


@login_required
def approval_page(request: HttpRequest, approval_id: int) -> HttpResponse:
    """One request: what is asked, why the policy wants approval, the evidence, the decisions."""
    approval = _visible_approval(request, approval_id)
    withdrawing = request.method == "POST" and request.POST.get("action") == "withdraw"
    form = DecisionForm(request.POST if request.method == "POST" and not withdrawing else None)
    error, status = "", 200
    with tenant_scope(approval.tenant):
        if request.method == "POST":
            try:
                if withdrawing:
                    done = _withdraw(request, approval)
                elif form.is_valid():
                    done = _decide(request, approval, form)
                else:
                    done, status = "", 400
            except PortalError as problem:
                error, status = problem.detail, problem.status_code
            else:
                if done:
                    messages.success(request, done)
                    return redirect("approval-page", approval_id=approval.pk)
            # Re-read: a refused verdict may still have changed the request (superseded).
            approval = _visible_approval(request, approval_id)
        context = {**_page_context(request, approval), "form": form, "error": error}
        return render(request, "governance/approval.html", context, status=status)


@tenant_page("read")
def model_classification(request: TenantRequest, name: str) -> HttpResponse:
    """The EU AI Act questionnaire, prefilled with the answers in force, the tier in force with
    who set it, and the open tier proposal with its diff (governance leads accept or reject it).
    Answering takes effect, or becomes a tier proposal (see ``classification_submit``)."""
    model = get_object_or_404(RegisteredModel.objects.all(), name=name)
    history = list(RiskClassification.objects.filter(model=model)[:HISTORY_SHOWN])
    current = history[0] if history else None
    can_classify = bool(CLASSIFIERS & request.capabilities)
    form = ClassificationForm(
        request.POST if request.method == "POST" else None,
        answers=current.answers if current else None,
    )
    if request.method == "POST":
        if not can_classify:
            raise PermissionDenied("Your role in this unit cannot classify models.")
        if form.is_valid():
            try:
                answered = classification_submit(
                    actor=Actor.user(request.user),
                    model=model,
                    answers=form.answers(),
                    user=request.user,
                )
            except PortalError as problem:
                form.add_error(None, problem.detail)
            else:
                messages.success(request, answered.message)
                return redirect("model-classification", tenant=request.tenant.slug, name=name)
    proposal = tier_proposal_open_of(model)
    return render(
        request,
        "governance/classification.html",
        {
            "tenant": request.tenant,
            "model": model,
            "current": current,
            "history": history,
            "form": form,
            "can_classify": can_classify,
            "proposal": proposal,
            "proposal_diff": tier_proposal_diff(proposal) if proposal else [],
            "can_decide": is_governance_lead(request.user),
            "questions": QUESTIONS,
            "classifier_version": CLASSIFIER_VERSION,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@tenant_page("govern")
def tier_proposal_decision(request: TenantRequest, name: str, proposal_id: int) -> HttpResponse:
    """A governance lead accepts or rejects the open tier proposal of a model (a comment says
    why it is rejected); back to the model's classification page either way."""
    proposal = get_object_or_404(tier_proposals(), pk=proposal_id, model__name=name)
    if not is_governance_lead(request.user):
        raise PermissionDenied("Only governance leads accept or reject tier proposals.")
    verdict = request.POST.get("verdict")
    actor = Actor.user(request.user)
    try:
        if verdict == "accept":
            proposal = tier_proposal_accept(actor=actor, proposal=proposal, lead=request.user)
            tier = RiskTier(proposal.tier).label.lower()
            messages.success(request, f"The proposal is accepted: {name} is classified {tier}.")
        elif verdict == "reject":
            tier_proposal_reject(
                actor=actor,
                proposal=proposal,
                lead=request.user,
                comment=request.POST.get("comment", "")[:4000],
            )
            messages.success(request, "The proposal is rejected; the unit is told why.")
        else:
            messages.error(request, "Choose to accept or to reject the proposal.")
    except PortalError as problem:
        messages.error(request, problem.detail)
    return redirect("model-classification", tenant=request.tenant.slug, name=name)


def _selected_version(request: HttpRequest, name: str) -> tuple[PolicyVersion, PolicyVersion]:
    """The version asked for by ``?version=`` (default: the newest) and the newest version."""
    versions = policy_versions_visible_to(request.user).filter(name=name)
    newest = versions.first()
    if newest is None:
        raise Http404("No such policy.")
    wanted = request.GET.get("version")
    if not wanted:
        return newest, newest
    selected = (
        versions.filter(version=wanted).first() if wanted.isdecimal() and len(wanted) < 9 else None
    )
    if selected is None:
        raise Http404("No such policy version.")
    return selected, newest


def _diff(selected: PolicyVersion) -> tuple[PolicyVersion | None, list[tuple[str, str]]]:
    """The previous version and the unified diff from it, as (kind, line) pairs."""
    previous = (
        PolicyVersion.objects.filter(name=selected.name, version__lt=selected.version)
        .order_by("-version")
        .first()
    )
    if previous is None:
        return None, []
    lines = difflib.unified_diff(
        previous.document.splitlines(),
        selected.document.splitlines(),
        fromfile=f"{selected.name} v{previous.version}",
        tofile=f"{selected.name} v{selected.version}",
        lineterm="",
    )
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return previous, [
        ("file" if line[:3] in ("---", "+++") else kinds.get(line[:1], "same"), line)
        for line in lines
    ]


def _readable_tenants(user: Any) -> QuerySet[Tenant]:
    """Tenants whose catalog the person may read (finance sees bills, not models)."""
    tenants = tenants_visible_to(user)
    if platform_role_of(user) == PlatformRole.FINANCE:
        tenants = tenants.filter(pk__in=member_tenant_ids(user))
    return tenants


def _dry_run(
    request: HttpRequest, selected: PolicyVersion
) -> tuple[PolicyDryRunForm, dict[str, Any] | None]:
    """Try the selected version on a request for a real model version (``try-`` parameters)."""
    bound = any(key.startswith("try-") for key in request.GET)
    form = PolicyDryRunForm(
        request.GET if bound else None, prefix="try", tenants=_readable_tenants(request.user)
    )
    if not bound or not form.is_valid():
        return form, None
    given = form.cleaned_data
    tenant = given["tenant"]
    with tenant_scope(tenant):
        version = (
            ModelVersion.objects.select_related("model")
            .filter(model__name=given["model"], version=given["version"])
            .first()
        )
        if version is None:
            form.add_error(
                "model", f"{tenant.name} has no version {given['version']} of '{given['model']}'."
            )
            return form, None
        try:
            _, decision, context = policy_dry_run_version(
                tenant=tenant,
                version=version,
                environment=given["environment"],
                document=selected.document,
            )
        except PortalError as problem:
            form.add_error(None, problem.detail)
            return form, None
        try:
            in_force: PolicyVersion | None = policy_in_force(tenant)
        except PortalError:
            in_force = None
    return form, {
        "tenant": tenant,
        "decision": decision,
        "context": context,
        "in_force": in_force,
        "is_in_force": in_force is not None and in_force.pk == selected.pk,
    }


@login_required
def policy_detail(request: HttpRequest, name: str) -> HttpResponse:
    selected, newest = _selected_version(request, name)
    can_publish = platform_role_of(request.user) in POLICY_PUBLISHERS
    publish = PolicyPublishForm(initial={"document": newest.document})
    status = 200
    if request.method == "POST":
        if not can_publish:
            raise PermissionDenied("Only governance leads publish policies.")
        publish = PolicyPublishForm(request.POST)
        if publish.is_valid():
            try:
                created = policy_publish(
                    actor=Actor.user(request.user),
                    document=publish.cleaned_data["document"],
                    note=publish.cleaned_data["note"],
                    source="page",
                    user=person_required(request, why=SIGNED_IN),
                )
            except PortalError as problem:
                publish.add_error("document", problem.detail)
                status = problem.status_code
            else:
                messages.success(
                    request, f"Version {created.version} of '{created.name}' is now in force."
                )
                return redirect("policy-detail", name=created.name)
        else:
            status = 400
    previous, diff = _diff(selected)
    dry_run_form, dry_run = _dry_run(request, selected)
    return render(
        request,
        "governance/policy_detail.html",
        {
            "policy": selected,
            "newest": newest,
            "versions": PolicyVersion.objects.filter(name=name)
            .defer("document")
            .order_by("-version"),
            "in_force": in_force_ids(),
            "previous": previous,
            "diff": diff,
            "can_publish": can_publish,
            "publish_form": publish,
            "dry_run_form": dry_run_form,
            "dry_run": dry_run,
        },
        status=status,
    )
